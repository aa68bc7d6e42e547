"""On-device federated learning: the local head trainer and the update codec (numpy only), and the phone's
half of secure aggregation with its wire format (numpy + ``cryptography``)."""
