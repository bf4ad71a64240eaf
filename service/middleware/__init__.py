"""The service's own ASGI layers, outermost first as a request meets them: draining (Connection:
close once a drain began), observability (request id, metrics, access log), API key, body limits
and admission, and the /predict fast path. service/app.py stacks them."""
