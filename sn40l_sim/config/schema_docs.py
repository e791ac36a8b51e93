"""Field descriptions for the JSON Schema, read from the models' attribute docstrings on demand.

pydantic's ``use_attribute_docstrings`` finds each model's source and parses it while the class is
built: about 70 ms on every start of ``sn40l-sim run``, which never shows a description. The
schema (``sn40l-sim schema``, an editor) is the one reader of them, so they are parsed here, when a
schema is generated, from the same docstrings (the string right below a field).
"""

from __future__ import annotations

import ast
import inspect
import sys
from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema


@cache
def _module_docstrings(module_name: str) -> dict[str, dict[str, str]]:
    """``{class name: {field: docstring}}`` for every top-level class of a module."""
    module = sys.modules.get(module_name)
    try:
        tree = ast.parse(inspect.getsource(module)) if module is not None else None
    except (OSError, TypeError):
        tree = None
    out: dict[str, dict[str, str]] = {}
    for node in tree.body if tree is not None else ():
        if not isinstance(node, ast.ClassDef):
            continue
        docs: dict[str, str] = {}
        for field, after in zip(node.body, node.body[1:], strict=False):
            if (isinstance(field, ast.AnnAssign) and isinstance(field.target, ast.Name)
                    and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
                    and isinstance(after.value.value, str)):
                docs[field.target.id] = inspect.cleandoc(after.value.value)
        out[node.name] = docs
    return out


def attribute_docstrings(model: type[BaseModel]) -> dict[str, str]:
    """Each field's docstring, a subclass's over those of the bases it inherits fields from."""
    docs: dict[str, str] = {}
    for cls in reversed(model.__mro__):
        if isinstance(cls, type) and issubclass(cls, BaseModel) and cls is not BaseModel:
            docs.update(_module_docstrings(cls.__module__).get(cls.__qualname__, {}))
    return docs


class DocumentedSchema(GenerateJsonSchema):
    """pydantic's JSON Schema with each property's ``description`` from its attribute docstring,
    as ``use_attribute_docstrings`` gives it: over the generic one a type brings (a quantity's
    "a quantity with its unit"), under one set on the field itself (``Field(description=...)``)."""

    def model_schema(self, schema: core_schema.ModelSchema) -> JsonSchemaValue:
        out = super().model_schema(schema)
        model = schema["cls"]
        docs = attribute_docstrings(model)
        fields = model.model_fields
        for name, spec in out.get("properties", {}).items():
            field = fields.get(name)
            if (name in docs and isinstance(spec, dict)
                    and (field is None or field.description is None)):
                spec["description"] = docs[name]
        return out


class DocumentedModel(BaseModel):
    """A config model whose ``model_json_schema`` describes its fields (see :class:`DocumentedSchema`)."""

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        if len(args) < 3:
            kwargs.setdefault("schema_generator", DocumentedSchema)
        return super().model_json_schema(*args, **kwargs)
