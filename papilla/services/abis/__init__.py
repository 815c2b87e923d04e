"""MOSIP ABIS adapter: MOSIP requests in, Papilla admission / matching / lifecycle, MOSIP responses out (docs/abis.md)."""
