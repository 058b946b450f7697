"""The client library of the cataract screening service: what a user of the served model
installs. It depends on tritonclient, numpy, Pillow and the shared contract
(cataract_contract), and on nothing of training or serving."""
