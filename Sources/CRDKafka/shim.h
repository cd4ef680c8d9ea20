#include <librdkafka/rdkafka.h>

/* Debian 12 ships librdkafka 2.0.2, which mis-skips KIP-482 tagged fields and fails against
   current brokers ("ApiVersionRequest failed: Local: Read underflow"). scripts/setup.sh builds
   a newer one into /usr/local; refuse to compile against the old header. */
#if RD_KAFKA_VERSION < 0x020102ff
#error "librdkafka >= 2.1.2 is required: run scripts/setup.sh (it installs one into /usr/local)"
#endif
