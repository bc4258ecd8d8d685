#!/usr/bin/env python3
"""Make openapi-path-index.json: every path key of Graph's OpenAPI split files
with its HTTP methods, nothing else (the full files are 1.7 MB).

Source: msgraph-sdk-powershell openApiDocs/v1.0/Applications.yml and Reports.yml
(commit f43aa05b3585171922fc830fa74aabcaea897679; see shared/reference/graph/GRAPH-API.md §9).
Run: python3 extract_paths.py Applications.v1.0.yml Reports.v1.0.yml > openapi-path-index.json
"""
import json
import sys

import yaml

METHODS = {"get", "put", "post", "delete", "patch"}
index = {}
for name in sys.argv[1:]:
    with open(name) as f:
        doc = yaml.safe_load(f)
    for path, item in doc.get("paths", {}).items():
        methods = sorted(m.upper() for m in item if m in METHODS)
        index.setdefault(path, [])
        index[path] = sorted(set(index[path]) | set(methods))
json.dump({"source": [n.rsplit("/", 1)[-1] for n in sys.argv[1:]], "paths": dict(sorted(index.items()))}, sys.stdout, indent=1)
print()
