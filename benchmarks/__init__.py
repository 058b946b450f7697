"""Every benchmark of the product, each a command that prints figures (`cataract bench ...`):
training and input throughput, inference, serving against in-process and a FastAPI
baseline, soak, overload and the audit. They are measuring tools, not tests."""
