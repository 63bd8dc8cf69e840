"""`prefit.train(...)`, `prefit.augment(...)`, `prefit.export(...)`: the stage packages of the same
names are callable, so that the API function and the package never shadow each other (importing
`prefit.train.cli` sets `prefit.train` to the package)."""

from __future__ import annotations

import sys
import types


def callable_package(package: str, function: str) -> None:
    """Make the package `package` callable as `prefit.api.<function>`."""

    class CallablePackage(types.ModuleType):
        def __call__(self, *args, **kwargs):
            from prefit import api

            return getattr(api, function)(*args, **kwargs)

    CallablePackage.__call__.__doc__ = f"prefit.api.{function}: see help(prefit.api.{function})."
    sys.modules[package].__class__ = CallablePackage
