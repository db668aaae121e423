#!/usr/bin/env python3
"""Provisions moto (the AWS stand-in) with what ConsoleGate's demo and tests use, and prints it as JSON.

    provision_standins.py --moto-url URL [--auth-moto-url URL]

In --moto-url: two console roles (trusting Cognito, and the account for assume-role) and a Cognito identity
pool with a developer provider and the classic flow. In --auth-moto-url: an IAM user whose access key signs
requests, after which moto checks every signature (POST /moto-api/reset-auth).
"""
import argparse
import json
import urllib.request

import boto3

ACCOUNT_ID = "123456789012"
DEVELOPER_PROVIDER = "login.consolegate.test"
# ConsoleRevocations is never signed in to: the revocation tests fill its inline policy to the limit.
ROLES = {"ConsoleReadOnly": "ec2:Describe*", "ConsoleAdmin": "*", "ConsoleBilling": "aws-portal:View*", "ConsoleRevocations": "ec2:Describe*"}


def client(service, url):
    return boto3.client(service, endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="provisioning", aws_secret_access_key="provisioning")


def trust_policy(pool_id):
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [
            {   # Cognito's classic flow: AssumeRoleWithWebIdentity with the pool's OpenID token.
                "Effect": "Allow",
                "Principal": {"Federated": "cognito-identity.amazonaws.com"},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"StringEquals": {"cognito-identity.amazonaws.com:aud": pool_id}},
            },
            {   # The assume-role strategy: the broker sets SourceIdentity and session tags.
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"},
                "Action": ["sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession"],
            },
        ],
    })


def provision(moto_url):
    cognito = client("cognito-identity", moto_url)
    pool = cognito.create_identity_pool(
        IdentityPoolName="consolegate",
        AllowUnauthenticatedIdentities=True,
        AllowClassicFlow=True,
        DeveloperProviderName=DEVELOPER_PROVIDER,
    )
    iam = client("iam", moto_url)
    roles = {}
    for name, action in ROLES.items():
        role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust_policy(pool["IdentityPoolId"]),
                               MaxSessionDuration=43200)
        iam.put_role_policy(RoleName=name, PolicyName="console", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]}))
        roles[name] = role["Role"]["Arn"]
    return {
        "account_id": ACCOUNT_ID,
        "identity_pool_id": pool["IdentityPoolId"],
        "developer_provider": DEVELOPER_PROVIDER,
        "roles": roles,
    }


def provision_signature_checking(moto_url):
    iam = client("iam", moto_url)
    iam.create_user(UserName="broker")
    iam.put_user_policy(UserName="broker", PolicyName="all", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    key = iam.create_access_key(UserName="broker")["AccessKey"]
    # From here on moto verifies SigV4 on every request.
    urllib.request.urlopen(urllib.request.Request(f"{moto_url}/moto-api/reset-auth", data=b"0", method="POST", headers={"Content-Type": "text/plain"})).read()
    return {"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--moto-url", required=True)
    parser.add_argument("--auth-moto-url")
    args = parser.parse_args()
    fixtures = provision(args.moto_url)
    if args.auth_moto_url:
        fixtures["signed_broker"] = provision_signature_checking(args.auth_moto_url)
    print(json.dumps(fixtures, indent=2))


if __name__ == "__main__":
    main()
