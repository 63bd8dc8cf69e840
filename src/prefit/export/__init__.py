"""ONNX export with parity checks. `prefit.export(...)` is prefit.api.export."""

from prefit._callable import callable_package

callable_package(__name__, "export")
