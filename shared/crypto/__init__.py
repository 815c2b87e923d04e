"""Papilla cryptography: key provider, envelope encryption with
crypto-shredding, IIN validation and keyed hash, sealed packets, sender registry.

Modules: `keys`, `envelope`, `iin`, `sealing`, `registry`; all errors in `errors`.
"""
