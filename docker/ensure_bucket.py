"""Create the S3 mode's private bucket when it does not exist yet (compose's ``setup`` service runs it first).

Contract: with ``DAWN_STORAGE=s3`` it connects to ``DAWN_S3_ENDPOINT_URL`` with ``DAWN_S3_ACCESS_KEY`` /
``DAWN_S3_SECRET_KEY`` / ``DAWN_S3_REGION``, retries while the store is starting (at most
``--wait`` seconds), and creates ``DAWN_S3_BUCKET`` unless it is there; the bucket gets no ACL. Exit 0 when
the bucket exists afterwards, 1 when the store never answered. Any other ``DAWN_STORAGE`` does nothing.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

DEFAULT_BUCKET = "dawn-chorus"
MISSING = {"404", "NoSuchBucket", "NotFound"}


def ensure(client, bucket: str) -> str:
    """``"there"`` or ``"created"``; raises while the store cannot be reached or refuses."""
    from botocore.exceptions import ClientError

    try:
        client.head_bucket(Bucket=bucket)
        return "there"
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in MISSING:
            raise
    client.create_bucket(Bucket=bucket)
    return "created"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wait", type=float, default=120.0, help="seconds to wait for the store")
    args = parser.parse_args(argv)
    if os.environ.get("DAWN_STORAGE", "filesystem") != "s3":
        print("DAWN_STORAGE is not s3: no bucket needed")
        return 0
    import boto3  # django-storages[s3]'s dependency: only the s3 mode needs it

    bucket = os.environ.get("DAWN_S3_BUCKET") or DEFAULT_BUCKET
    client = boto3.client("s3", endpoint_url=os.environ.get("DAWN_S3_ENDPOINT_URL") or None,
                          aws_access_key_id=os.environ.get("DAWN_S3_ACCESS_KEY") or None,
                          aws_secret_access_key=os.environ.get("DAWN_S3_SECRET_KEY") or None,
                          region_name=os.environ.get("DAWN_S3_REGION") or "us-east-1")
    deadline = time.monotonic() + args.wait
    while True:
        try:
            print(f"bucket {bucket}: {ensure(client, bucket)}")
            return 0
        except Exception as exc:  # the store is still starting, or refuses
            if time.monotonic() > deadline:
                print(f"the S3 store did not accept the bucket in {args.wait:.0f} s: {exc}", file=sys.stderr)
                return 1
            time.sleep(2)


if __name__ == "__main__":
    sys.exit(main())
