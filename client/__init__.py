"""Client side of the cataract screening service: the shared image handling and the
Triton client library. Kept import-light: Triton's python backend imports
`client.imaging` in an environment that has only numpy and Pillow."""
