"""Scanner drivers behind `services.capture.devices.Scanner` (see docs/scanners.md)."""
