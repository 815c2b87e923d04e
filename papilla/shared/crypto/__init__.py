"""Papilla cryptography: key provider, envelope encryption with
crypto-shredding, IIN validation and keyed hash, sealed packets, sender registry.

Modules: `keys` (the KeyProvider interface, file provider), `pkcs11_keys` (PKCS#11
provider), `providers` (pick one from settings), `rotation` (KEK rotation),
`envelope`, `iin`, `sealing`, `registry`; all errors in `errors`.  See docs/keys.md.
"""
