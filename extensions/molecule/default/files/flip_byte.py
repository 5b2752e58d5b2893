"""flip_byte.py FILE: flips the lowest bit of the byte in the middle of FILE (run it again to undo)."""
import sys

path = sys.argv[1]
with open(path, "r+b") as handle:
    data = bytearray(handle.read())
    data[len(data) // 2] ^= 1
    handle.seek(0)
    handle.write(bytes(data))
