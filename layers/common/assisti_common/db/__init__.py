"""The only code that talks to DynamoDB. Every query is keyed by its owner's id."""
