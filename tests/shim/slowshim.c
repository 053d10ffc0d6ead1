/*
 * slowshim: a PKCS#11 module that forwards to a real one (SoftHSM2 by
 * default) and misbehaves on request, for tests/token_faults.rs.
 *
 * Build: cc -shared -fPIC -o libslowshim.so slowshim.c -ldl
 *
 * Environment (read at each call):
 *   SLOWSHIM_MODULE        the real module (default /usr/lib/softhsm/libsofthsm2.so)
 *   SLOWSHIM_SIGN_SLEEP    seconds C_Sign sleeps before forwarding a signing call
 *                          (not a size query); "forever" never returns
 *   SLOWSHIM_LOGIN_SLEEP   the same for C_Login
 *   SLOWSHIM_SIGN_FAIL_AFTER  after this many forwarded C_Sign calls, C_Sign and
 *                          C_SignInit return CKR_DEVICE_REMOVED (the token was pulled)
 *   SLOWSHIM_SIGN_CORRUPT  if set, C_Sign flips one bit of every signature it returns
 *   SLOWSHIM_LOGIN_COUNT   a file: each C_Login appends one line ("login slot=N user=U",
 *                          the session's slot from C_GetSessionInfo, U 1 = CKU_USER,
 *                          2 = CKU_CONTEXT_SPECIFIC)
 *   SLOWSHIM_SIGN_COUNT    a file: each C_Sign appends one line ("sign")
 *   SLOWSHIM_CONTEXT_PIN_CORRUPT  if set, C_Login with CKU_CONTEXT_SPECIFIC gets the PIN with
 *                          its first byte changed (a wrong PIN at the per-signature login)
 *   SLOWSHIM_TOKEN_FLAGS   a number OR-ed into CK_TOKEN_INFO.flags by C_GetTokenInfo
 *                          (e.g. 0x20000 CKF_USER_PIN_FINAL_TRY, 0x40000 CKF_USER_PIN_LOCKED)
 *   SLOWSHIM_FAULT_IN      C_Sign, C_Login or C_FindObjects: where SLOWSHIM_FAULT strikes
 *   SLOWSHIM_FAULT         segv (a NULL write), abort (abort()), noise (writes a line to
 *                          stdout, then works), hang (never returns); C_Sign faults
 *                          strike on a signing call, not on a size query
 *   SLOWSHIM_SIGN_DELAY_MS milliseconds C_Sign waits before forwarding a signing call
 *                          (not a size query): a card's speed (the restricted smartcard
 *                          profile, tests/common/mod.rs SMARTCARD_*)
 *   SLOWSHIM_MECH_LOG      a file: each C_SignInit appends "signinit 0xMECH" and each
 *                          C_GenerateKeyPair "keygen 0xMECH" (the CKM_ mechanism type), so a
 *                          test can tell which mechanisms kskit tried
 *
 * Only C_GetFunctionList is exported (no C_GetInterface), so callers use the
 * PKCS#11 2.40 function list, copied here with C_GetTokenInfo, C_Login,
 * C_FindObjects, C_SignInit and C_Sign replaced (and C_GenerateKeyPair, to log its mechanism). No PKCS#11 header is needed: the list is a version and 68
 * function pointers in the order of the standard.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef unsigned long CK_ULONG;
typedef CK_ULONG CK_RV;
typedef struct { unsigned char major, minor; } CK_VERSION;
#define N_FUNCTIONS 68
typedef struct { CK_VERSION version; void *f[N_FUNCTIONS]; } FunctionList;
enum { I_GET_TOKEN_INFO = 6, I_GET_SESSION_INFO = 15, I_LOGIN = 18, I_FIND_OBJECTS = 27, I_SIGN_INIT = 42, I_SIGN = 43, I_GENERATE_KEY_PAIR = 59 };
/* CK_TOKEN_INFO: label[32], manufacturerID[32], model[16], serialNumber[16], then flags. */
#define TOKEN_INFO_FLAGS_OFFSET 96
#define CKR_OK 0UL
#define CKR_GENERAL_ERROR 5UL
#define CKR_DEVICE_REMOVED 0x32UL

typedef CK_RV (*GetFunctionList)(FunctionList **);
typedef CK_RV (*GetTokenInfo)(CK_ULONG, unsigned char *);
typedef CK_RV (*GetSessionInfo)(CK_ULONG, CK_ULONG *);
typedef CK_RV (*Login)(CK_ULONG, CK_ULONG, unsigned char *, CK_ULONG);
typedef CK_RV (*SignInit)(CK_ULONG, void *, CK_ULONG);
typedef CK_RV (*Sign)(CK_ULONG, unsigned char *, CK_ULONG, unsigned char *, CK_ULONG *);
typedef CK_RV (*GenerateKeyPair)(CK_ULONG, void *, void *, CK_ULONG, void *, CK_ULONG, CK_ULONG *, CK_ULONG *);

static FunctionList *real;
static FunctionList shim;
static long signs_forwarded;

static void append_line(const char *var, const char *line) {
    const char *path = getenv(var);
    if (!path || !*path) return;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd < 0) return;
    if (write(fd, line, strlen(line)) < 0) { /* best effort */ }
    close(fd);
}

static void maybe_sleep(const char *var) {
    const char *v = getenv(var);
    if (!v || !*v) return;
    if (strcmp(v, "forever") == 0) {
        for (;;) pause();
    }
    unsigned s = (unsigned)strtoul(v, NULL, 10);
    while (s > 0) s = sleep(s);
}

static int removed(void) {
    const char *v = getenv("SLOWSHIM_SIGN_FAIL_AFTER");
    return v && *v && signs_forwarded >= strtol(v, NULL, 10);
}

/* The fault of SLOWSHIM_FAULT if SLOWSHIM_FAULT_IN names `fn`. */
static void maybe_fault(const char *fn) {
    const char *where = getenv("SLOWSHIM_FAULT_IN");
    const char *what = getenv("SLOWSHIM_FAULT");
    if (!where || !what || strcmp(where, fn) != 0) return;
    if (strcmp(what, "segv") == 0) {
        volatile int *p = NULL;
        *p = 1;
    } else if (strcmp(what, "abort") == 0) {
        abort();
    } else if (strcmp(what, "noise") == 0) {
        const char *msg = "slowshim: debug output on stdout\n";
        if (write(1, msg, strlen(msg)) < 0) { /* best effort */ }
    } else if (strcmp(what, "hang") == 0) {
        for (;;) pause();
    }
}

typedef CK_RV (*FindObjects)(CK_ULONG, CK_ULONG *, CK_ULONG, CK_ULONG *);

static CK_RV shim_find_objects(CK_ULONG session, CK_ULONG *objects, CK_ULONG max, CK_ULONG *count) {
    maybe_fault("C_FindObjects");
    return ((FindObjects)real->f[I_FIND_OBJECTS])(session, objects, max, count);
}

static CK_RV shim_get_token_info(CK_ULONG slot, unsigned char *info) {
    CK_RV rv = ((GetTokenInfo)real->f[I_GET_TOKEN_INFO])(slot, info);
    const char *v = getenv("SLOWSHIM_TOKEN_FLAGS");
    if (rv == CKR_OK && info && v && *v) {
        CK_ULONG flags;
        memcpy(&flags, info + TOKEN_INFO_FLAGS_OFFSET, sizeof flags);
        flags |= strtoul(v, NULL, 0);
        memcpy(info + TOKEN_INFO_FLAGS_OFFSET, &flags, sizeof flags);
    }
    return rv;
}

static CK_RV shim_login(CK_ULONG session, CK_ULONG user, unsigned char *pin, CK_ULONG len) {
    /* CK_SESSION_INFO: slotID, state, flags, ulDeviceError. */
    CK_ULONG info[4] = {0, 0, 0, 0};
    char line[96];
    if (((GetSessionInfo)real->f[I_GET_SESSION_INFO])(session, info) != CKR_OK) info[0] = (CK_ULONG)-1;
    snprintf(line, sizeof line, "login slot=%lu user=%lu\n", info[0], user);
    append_line("SLOWSHIM_LOGIN_COUNT", line);
    maybe_fault("C_Login");
    maybe_sleep("SLOWSHIM_LOGIN_SLEEP");
    const char *corrupt = getenv("SLOWSHIM_CONTEXT_PIN_CORRUPT");
    if (user == 2 /* CKU_CONTEXT_SPECIFIC */ && corrupt && *corrupt && pin && len > 0 && len < 256) {
        unsigned char wrong[256];
        memcpy(wrong, pin, len);
        wrong[0] ^= 0x01;
        return ((Login)real->f[I_LOGIN])(session, user, wrong, len);
    }
    return ((Login)real->f[I_LOGIN])(session, user, pin, len);
}

/* Appends "<what> 0xMECH" to SLOWSHIM_MECH_LOG; a CK_MECHANISM starts with its type. */
static void log_mechanism(const char *what, const void *mech) {
    char line[64];
    CK_ULONG type = (CK_ULONG)-1;
    if (mech) memcpy(&type, mech, sizeof type);
    snprintf(line, sizeof line, "%s 0x%lx\n", what, type);
    append_line("SLOWSHIM_MECH_LOG", line);
}

static void maybe_delay_ms(const char *var) {
    const char *v = getenv(var);
    if (!v || !*v) return;
    unsigned long ms = strtoul(v, NULL, 10);
    struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0) { /* interrupted: sleep the rest */ }
}

static CK_RV shim_generate_key_pair(CK_ULONG session, void *mech, void *pub, CK_ULONG npub, void *priv, CK_ULONG npriv, CK_ULONG *hpub, CK_ULONG *hpriv) {
    log_mechanism("keygen", mech);
    return ((GenerateKeyPair)real->f[I_GENERATE_KEY_PAIR])(session, mech, pub, npub, priv, npriv, hpub, hpriv);
}

static CK_RV shim_sign_init(CK_ULONG session, void *mech, CK_ULONG key) {
    log_mechanism("signinit", mech);
    if (removed()) return CKR_DEVICE_REMOVED;
    return ((SignInit)real->f[I_SIGN_INIT])(session, mech, key);
}

static CK_RV shim_sign(CK_ULONG session, unsigned char *data, CK_ULONG len, unsigned char *sig, CK_ULONG *siglen) {
    append_line("SLOWSHIM_SIGN_COUNT", "sign\n");
    if (removed()) return CKR_DEVICE_REMOVED;
    /* Sleep on the signing call, not on a size query (sig == NULL). */
    if (sig != NULL) maybe_sleep("SLOWSHIM_SIGN_SLEEP");
    if (sig != NULL) maybe_delay_ms("SLOWSHIM_SIGN_DELAY_MS");
    if (sig != NULL) maybe_fault("C_Sign");
    CK_RV rv = ((Sign)real->f[I_SIGN])(session, data, len, sig, siglen);
    /* A token that returns wrong signatures: flip one bit of each. */
    const char *corrupt = getenv("SLOWSHIM_SIGN_CORRUPT");
    if (rv == CKR_OK && sig != NULL && siglen && *siglen > 0 && corrupt && *corrupt) sig[*siglen / 2] ^= 0x01;
    /* A size query (sig == NULL) is not a signature. */
    if (rv == CKR_OK && sig != NULL) signs_forwarded++;
    return rv;
}

CK_RV C_GetFunctionList(FunctionList **out) {
    if (!out) return 7UL; /* CKR_ARGUMENTS_BAD */
    if (!real) {
        const char *path = getenv("SLOWSHIM_MODULE");
        if (!path || !*path) path = "/usr/lib/softhsm/libsofthsm2.so";
        void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (!h) return CKR_GENERAL_ERROR;
        GetFunctionList gfl = (GetFunctionList)dlsym(h, "C_GetFunctionList");
        if (!gfl) return CKR_GENERAL_ERROR;
        CK_RV rv = gfl(&real);
        if (rv != CKR_OK) return rv;
        memcpy(&shim, real, sizeof shim);
        shim.f[I_GET_TOKEN_INFO] = (void *)shim_get_token_info;
        shim.f[I_LOGIN] = (void *)shim_login;
        shim.f[I_SIGN_INIT] = (void *)shim_sign_init;
        shim.f[I_SIGN] = (void *)shim_sign;
        shim.f[I_FIND_OBJECTS] = (void *)shim_find_objects;
        shim.f[I_GENERATE_KEY_PAIR] = (void *)shim_generate_key_pair;
    }
    *out = &shim;
    return CKR_OK;
}
