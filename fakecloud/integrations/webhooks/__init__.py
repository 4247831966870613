"""Webhooks: camera events POSTed as signed JSON to the URLs the owner configures
(docs/webhooks.md). `payloads` says what a delivery holds, `delivery` sends to one URL,
`part` fans the event bus out to every URL."""
