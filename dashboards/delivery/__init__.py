"""Alert and report delivery: the channels file, email / Slack / signed webhooks, once per channel, logged."""
