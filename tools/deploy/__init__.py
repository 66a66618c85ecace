"""Build and deploy tooling: what `sam build` runs for each zip unit, and `make deploy-check`."""
