#ifndef CONSOLEGATE_CLIBCRYPTO_SHIM_H
#define CONSOLEGATE_CLIBCRYPTO_SHIM_H
// SHA256_Init, _Update and _Final are deprecated in OpenSSL 3 in favour of EVP, whose first use loads the
// provider machinery: 2 MiB more of libcrypto resident in the daemon, for one hash function (scripts/bench.sh).
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#endif
