/* tls_transport: distribution over TLS (what `-proto_dist inet_tls` nodes
 * speak), with OpenSSL, as a transport_layer: every distribution connection,
 * outgoing or accepted, first runs a TLS handshake and then ei's
 * distribution handshake inside it; afterwards the event loop reads and
 * writes through the same non-blocking stream interface as plain TCP. EPMD
 * stays plain TCP, as in OTP.
 *
 * Peers are verified against the configured CA by default (verify_peer);
 * an outgoing connection also checks that the node's certificate names the
 * host part of its node name (as a DNS or IP subjectAltName), or the
 * configured server_name_indication; `disable` turns that check and SNI off,
 * as in OTP. Failures say what went wrong in OpenSSL's words
 * (X509_verify_cert_error_string, alerts from the peer).
 *
 * Ownership: tls_context_new returns a context the caller frees with
 * tls_context_free() (accepts NULL) after every connection made with it is
 * closed. The key's passphrase is read from its file, used once to load the
 * key and wiped; it is never logged. */
#ifndef CLUSTERD_TLS_TRANSPORT_H
#define CLUSTERD_TLS_TRANSPORT_H

#include <stddef.h>

#include "tls_config.h"
#include "transport.h"

typedef struct tls_context tls_context;

/* Loads the certificate, key and CA. Returns NULL with err (naming the file
 * and the reason) on failure. */
tls_context *tls_context_new(const config_tls *cfg, char *err, size_t errlen);

/* The layer to pass to ei as setup_ctx (see transport.h); lives as long as t. */
const transport_layer *tls_context_layer(const tls_context *t);

void tls_context_free(tls_context *t);

/* "OpenSSL 3.0.x ..." for --version. */
const char *tls_library_version(void);

#endif
