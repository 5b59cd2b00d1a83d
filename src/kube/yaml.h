/* kube/yaml.h - a small YAML reader for the subset kubeconfig files use.
 *
 * Why not libyaml: kubeconfigs written by kubectl (and by kind, minikube, cloud CLIs) use block
 * mappings, block sequences (also at the parent's indentation), plain and quoted scalars,
 * comments, and `{}`/`[]`. That is ~300 lines to read well, and a closed subset lets us refuse
 * the rest with a line number instead of misreading it.
 *
 * Supported: block mappings; block sequences ("- x", "- key: v" items, nested); plain scalars;
 * 'single' and "double" quoted scalars on one line (escapes \\ \" \n \t \r \/ \0 \uXXXX); comments;
 * flow `{}`, `[]` and flow sequences of scalars `[a, "b"]`; a leading "---".
 * Refused (-ENOTSUP, "line N: ..."): anchors and aliases, tags, block scalars (| >), non-empty
 * flow mappings, multi-line flow or quoted scalars, tabs in indentation, several documents.
 *
 * Scalars become JSON strings (no type guessing: "true" stays a string; the caller interprets),
 * except empty values, "~" and "null", which become JSON null. Duplicate keys: the last wins. */
#ifndef AZDO_KUBE_YAML_H
#define AZDO_KUBE_YAML_H

#include <jansson.h>
#include <stddef.h>

#include "err.h"

/* Parses 'text' ('len' bytes). 0 with '*out' new (json_decref), or -ENOTSUP / -EINVAL /
 * -ENOMEM with "line N: reason" in 'err'. An empty document gives an empty object. */
int kube_yaml_parse(const char *text, size_t len, json_t **out, struct err *err);

#endif
