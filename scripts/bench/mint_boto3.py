#!/usr/bin/env python3
"""The `consolegate mint` cognito-developer flow written with boto3, as a baseline for scripts/bench/mint.sh.

    bench_mint.py --endpoint-url URL --federation-url URL --identity-pool-id ID \
                  --developer-provider NAME --role-arn ARN --user NAME [--region R] [--issuer URL]

GetOpenIdTokenForDeveloperIdentity -> AssumeRoleWithWebIdentity -> getSigninToken at the federation
endpoint, then prints the console login URL. Broker keys come from the environment, as for consolegate.
It does the same AWS calls and no more, so that the benchmark compares like with like.
"""
import argparse
import json
import sys
import urllib.parse
import urllib.request

import boto3

DESTINATION = "https://console.aws.amazon.com/"
SESSION_DURATION = 3600  # the bench config's `session_duration: 1h`


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint-url", required=True, help="moto, standing in for AWS")
    parser.add_argument("--federation-url", required=True)
    parser.add_argument("--identity-pool-id", required=True)
    parser.add_argument("--developer-provider", required=True)
    parser.add_argument("--role-arn", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--issuer", default="https://consolegate.example.org/")
    args = parser.parse_args()

    # One session for both clients: creating it (loading botocore's data files) is part of the cost.
    session = boto3.session.Session(region_name=args.region)
    cognito = session.client("cognito-identity", endpoint_url=args.endpoint_url)
    sts = session.client("sts", endpoint_url=args.endpoint_url)

    token = cognito.get_open_id_token_for_developer_identity(
        IdentityPoolId=args.identity_pool_id, Logins={args.developer_provider: args.user})["Token"]
    # consolegate also asks for 1 hour: every role allows that much.
    creds = sts.assume_role_with_web_identity(
        RoleArn=args.role_arn, RoleSessionName=args.user, WebIdentityToken=token,
        DurationSeconds=3600)["Credentials"]

    signin_session = json.dumps({"sessionId": creds["AccessKeyId"], "sessionKey": creds["SecretAccessKey"],
                                 "sessionToken": creds["SessionToken"]})
    # POST, not GET: the Session parameter holds credentials and should stay out of URLs and logs.
    body = urllib.parse.urlencode({"Action": "getSigninToken", "Session": signin_session,
                                   "SessionDuration": str(SESSION_DURATION)}).encode()
    with urllib.request.urlopen(args.federation_url, data=body, timeout=10) as response:
        signin_token = json.load(response)["SigninToken"]

    query = urllib.parse.urlencode({"Action": "login", "Issuer": args.issuer, "Destination": DESTINATION,
                                    "SigninToken": signin_token})
    print(f"{args.federation_url}?{query}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
