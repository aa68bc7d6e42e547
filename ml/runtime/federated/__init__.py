"""On-device federated learning (numpy only): the local head trainer and the update codec."""
