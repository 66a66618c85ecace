"""The local stack: moto as AWS, resources and routes wired from template.yaml, a mailbox."""
