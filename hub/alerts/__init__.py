"""Alerts: the engine's violations pushed to where leads are (WeCom, DingTalk, Feishu robots and
plain webhooks), routed by `alerts.toml` in the site folder and delivered from a durable outbox.

  config.py    alerts.toml: channels, routes, severities (validated by check-config)
  channels.py  each robot's request: payload and signature, small pure functions
  messages.py  the words of an alert in the site's language
  routes.py    which violation goes to which channel
  outbox.py    the engine's live violation updates -> outbox rows (dedup, resolved, correction)
  sender.py    the outbox -> HTTP, with backoff, per-channel rate limits and quiet-hours digests
"""
