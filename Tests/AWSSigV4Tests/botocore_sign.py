"""Signs requests read as JSON lines from stdin with botocore's SigV4Auth and prints the Authorization headers.

The differential test in SigV4DifferentialTests feeds randomized requests through both signers.
"""
import json
import sys

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

for line in sys.stdin:
    case = json.loads(line)
    credentials = Credentials(case["access_key"], case["secret_key"], case.get("token"))
    request = AWSRequest(method=case["method"], url=case["url"], params=case["params"],
                         headers=dict(case["headers"]), data=case["body"].encode())
    auth = SigV4Auth(credentials, case["service"], case["region"])
    # Fixed time instead of utcnow(), so both signers sign the same instant.
    request.context["timestamp"] = case["timestamp"]
    auth._modify_request_before_signing(request)
    canonical = auth.canonical_request(request)
    string_to_sign = auth.string_to_sign(request, canonical)
    signature = auth.signature(string_to_sign, request)
    scope = auth.scope(request)
    headers = ";".join(auth.signed_headers(auth.headers_to_sign(request)).split(";"))
    print(json.dumps({
        "authorization": f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders={headers}, Signature={signature}",
    }), flush=True)
