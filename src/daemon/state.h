#ifndef FRUGAL_DAEMON_STATE_H
#define FRUGAL_DAEMON_STATE_H

/* Reads STATE_DIR/api-token, or creates it (mode 0600) with a random token. */
int fr_state_token(const char *dir, char **token_out, int *generated);
/* Reads STATE_DIR/session.key, or creates it with 32 random bytes. */
int fr_state_secret(const char *dir, unsigned char out[32]);

#endif
