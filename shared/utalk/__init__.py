"""UTalk shared package: models, repositories, services and the HTTP layer used by every function."""
