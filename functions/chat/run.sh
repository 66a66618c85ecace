#!/bin/sh
# The streaming chat function's entry point: the AWS Lambda Web Adapter (AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap)
# runs this, then proxies each invocation to the app over HTTP and streams its response back.
exec python -m uvicorn "${ASSISTI_ASGI_APP:-assisti_chat.app:app}" --host 127.0.0.1 --port "${AWS_LWA_PORT:-8080}" \
    --no-access-log --timeout-keep-alive 60
