/* k8s_names.h - syntax checks for the names Kubernetes accepts, so the validator can refuse a
 * RunnerPool whose agent pods or PVCs the API server would later reject.
 *
 * All functions are pure, accept NULL (returning false) and never allocate. The rules follow
 * apimachinery's validation package (IsDNS1123Label, IsDNS1123Subdomain, IsValidLabelValue,
 * IsQualifiedName, IsEnvVarName, IsConfigMapKey). */
#ifndef AZDO_POOL_K8S_NAMES_H
#define AZDO_POOL_K8S_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#define K8S_DNS1123_LABEL_MAX 63
#define K8S_DNS1123_SUBDOMAIN_MAX 253
#define K8S_LABEL_VALUE_MAX 63

/* [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63 characters: volume names, container names. */
bool k8s_name_is_dns1123_label(const char *s);

/* Labels of the form above joined by '.', at most 253 characters: object names (Secrets, PVCs,
 * pods, StorageClasses). */
bool k8s_name_is_dns1123_subdomain(const char *s);

/* Empty, or [A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])? of at most 63 characters. */
bool k8s_name_is_label_value(const char *s);

/* A label or annotation key: an optional DNS-1123 subdomain prefix and '/', then a name of at
 * most 63 characters in the label-value alphabet (non-empty). */
bool k8s_name_is_qualified(const char *s);

/* An environment variable name as Kubernetes validates it: [-._a-zA-Z][-._a-zA-Z0-9]*. */
bool k8s_name_is_env_var(const char *s);

/* A key inside a Secret: [-._a-zA-Z0-9]+, at most 253 characters, not "." or "..". */
bool k8s_name_is_secret_key(const char *s);

#endif
