"""The auth function (zip): accounts, emailed codes, tokens, the profile and staff tools."""
