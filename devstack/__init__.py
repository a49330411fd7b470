"""Local Google Cloud stack: emulators, provisioning from the manifest, the gateway and the seed."""
