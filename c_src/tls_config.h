/* tls_config: the `node.tls:` section of the config (distribution over TLS,
 * as nodes started with `-proto_dist inet_tls`). Pure parsing and checks; the
 * OpenSSL side lives in tls_transport.c. Ownership: the config_tls filled by
 * tls_config_read is the caller's, freed with tls_config_free() (accepts NULL). */
#ifndef CLUSTERD_TLS_CONFIG_H
#define CLUSTERD_TLS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "config_yaml.h"

/* TLS protocol versions, as a bit set (`versions:`). */
enum { TLS_VERSION_12 = 1u << 0, TLS_VERSION_13 = 1u << 1 };

typedef struct config_tls {
    char *certfile;      /* PEM: our certificate (chain); owned */
    char *keyfile;       /* PEM: its private key; owned (defaults to certfile) */
    char *cacertfile;    /* PEM: the CA(s) peers must chain to; owned; NULL with verify_none */
    char *password_file; /* file holding the key's passphrase (a secret); owned or NULL */
    bool verify_peer;    /* verify: verify_peer (default) | verify_none */
    bool sni_disabled;   /* server_name_indication: disable (no SNI, no host name check) */
    char *server_name;   /* server_name_indication: NAME; NULL = each node's host part */
    unsigned versions;   /* TLS_VERSION_* bits; default 1.2 and 1.3 */
} config_tls;

/* Reads `tls:` (key and its value) into *out (NULL when the value is not a
 * usable mapping); every problem is reported into c as file:line:col. Files
 * named by the section must exist and be readable (checked here so that
 * `clusterd check` catches them); their contents are read when clusterd
 * starts. verify_none is accepted with a warning. */
void tls_config_read(cfg_ctx *c, const yaml_node_t *key, const yaml_node_t *val, config_tls **out);

/* Whether two settings differ (NULL = no TLS); a change needs a restart. */
bool tls_config_differs(const config_tls *a, const config_tls *b);

void tls_config_free(config_tls *t);

/* "tlsv1.2,tlsv1.3" style text of a versions set, for logs. */
const char *tls_versions_text(unsigned versions);

#endif
