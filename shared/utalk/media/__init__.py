"""Media helpers shared by the upload, download, sending and retention services: what a file is
(`types`), the limits that apply to it (`limits`), and signed Cloud Storage URLs (`signing`)."""
