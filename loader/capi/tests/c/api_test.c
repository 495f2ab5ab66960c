/*
 * Exercises every function of kiln.h, as a C embedder uses them.
 *
 *   api_test FIXTURES
 *
 * FIXTURES is a directory with the kilnc artifacts of loader/capi/tests/wat
 * and tests/wasi/hello.wat: api.o, fuel.o (metered.wat with --fuel),
 * epoch.o (metered.wat with --epoch-interruption), hello.o, wasi_files.o.
 * Any failed check prints where and exits with 1; success prints "ok" with
 * the count of checks and exits with 0. Everything made is freed, so that
 * valgrind finds no leak.
 */
#define _POSIX_C_SOURCE 200809L

#include <kiln.h>

#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int checks;

#define CHECK(cond)                                                                  \
  do {                                                                               \
    checks++;                                                                        \
    if (!(cond)) {                                                                   \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);      \
      exit(1);                                                                       \
    }                                                                                \
  } while (0)

/* Fails unless `error` is NULL; prints its message if not. */
#define OK(expr) expect_ok((expr), #expr, __LINE__)

static void expect_ok(kiln_error_t *error, const char *what, int line) {
  checks++;
  if (error != NULL) {
    fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, line, what, kiln_error_message(error));
    kiln_error_delete(error);
    exit(1);
  }
}

/* Fails unless `error` is an error whose message contains `needle`, and
 * not a panic caught at the boundary (which the API only keeps from
 * crossing into C: none is expected); frees it. */
#define FAILS(expr, needle) expect_error((expr), (needle), #expr, __LINE__)

static void expect_error(kiln_error_t *error, const char *needle, const char *what, int line) {
  checks++;
  if (error == NULL) {
    fprintf(stderr, "%s:%d: %s succeeded, expected an error with \"%s\"\n", __FILE__, line, what, needle);
    exit(1);
  }
  const char *message = kiln_error_message(error);
  if (message == NULL || strstr(message, needle) == NULL || strstr(message, "internal error") != NULL) {
    fprintf(stderr, "%s:%d: %s: error \"%s\" does not contain \"%s\"\n", __FILE__, line, what,
            message ? message : "(null)", needle);
    exit(1);
  }
  kiln_error_delete(error);
}

/* Fails unless `error` is a trap with `code` and `needle` in its message;
 * frees it. */
#define TRAPS(expr, code, needle) expect_trap((expr), (code), (needle), #expr, __LINE__)

static void expect_trap(kiln_error_t *error, kiln_trap_code_t code, const char *needle, const char *what,
                        int line) {
  checks++;
  kiln_trap_code_t got = 0;
  int32_t status = -1;
  if (error == NULL || !kiln_error_is_trap(error) || !kiln_error_trap_code(error, &got) || got != code ||
      kiln_error_exit_status(error, &status) || strstr(kiln_error_message(error), needle) == NULL) {
    fprintf(stderr, "%s:%d: %s: expected trap %d with \"%s\", got %s (code %d)\n", __FILE__, line, what, code,
            needle, error ? kiln_error_message(error) : "success", got);
    exit(1);
  }
  kiln_error_delete(error);
}

/* Fails unless `error` is a WASI exit with `status`; frees it. */
static void expect_exit(kiln_error_t *error, int32_t status, int line) {
  checks++;
  int32_t got = -1;
  kiln_trap_code_t code = 0;
  if (error == NULL || !kiln_error_exit_status(error, &got) || got != status || kiln_error_is_trap(error) ||
      kiln_error_trap_code(error, &code)) {
    fprintf(stderr, "%s:%d: expected exit %d, got %s\n", __FILE__, line, status,
            error ? kiln_error_message(error) : "success");
    exit(1);
  }
  kiln_error_delete(error);
}

static kiln_val_t i32(int32_t v) {
  kiln_val_t val;
  val.kind = KILN_I32;
  val.of.i32 = v;
  return val;
}

static char *path_in(const char *dir, const char *name) {
  size_t len = strlen(dir) + strlen(name) + 2;
  char *path = malloc(len);
  CHECK(path != NULL);
  snprintf(path, len, "%s/%s", dir, name);
  return path;
}

static uint8_t *read_file(const char *path, size_t *len) {
  FILE *file = fopen(path, "rb");
  CHECK(file != NULL);
  CHECK(fseek(file, 0, SEEK_END) == 0);
  long size = ftell(file);
  CHECK(size > 0);
  CHECK(fseek(file, 0, SEEK_SET) == 0);
  uint8_t *bytes = malloc((size_t)size);
  CHECK(bytes != NULL);
  CHECK(fread(bytes, 1, (size_t)size, file) == (size_t)size);
  fclose(file);
  *len = (size_t)size;
  return bytes;
}

static kiln_module_t *load(const kiln_engine_t *engine, const char *dir, const char *name) {
  char *path = path_in(dir, name);
  kiln_module_t *module = NULL;
  OK(kiln_module_from_file(engine, path, &module));
  CHECK(module != NULL);
  free(path);
  return module;
}

static kiln_func_t *get_func(const kiln_store_t *store, const kiln_instance_t *instance, const char *name) {
  kiln_func_t *func = NULL;
  OK(kiln_instance_get_func(store, instance, name, &func));
  CHECK(func != NULL);
  return func;
}

/* Calls an (i32) -> i32 or (i32, i32) -> i32 export. */
static kiln_error_t *call_i32(kiln_store_t *store, const kiln_func_t *func, int nargs, int32_t a, int32_t b,
                              int32_t *result) {
  kiln_val_t args[2] = {i32(a), i32(b)};
  kiln_val_t out = i32(-12345);
  kiln_error_t *error = kiln_func_call(store, func, args, (size_t)nargs, &out, 1);
  if (error == NULL) {
    CHECK(out.kind == KILN_I32);
    *result = out.of.i32;
  }
  return error;
}

/* ---- host functions ---------------------------------------------------- */

/* The store's user data in the tests. */
struct host_state {
  kiln_store_t *store;
  int shouts;
  int store_refusals;
};

static int store_finalized;
static void *store_finalized_with;
static void finalize_store(void *data) {
  store_finalized++;
  store_finalized_with = data;
}

static int envs_finalized;
static void finalize_env(void *env) {
  (void)env;
  envs_finalized++;
}

static const char *const SHOUT_ENV = "shout env";

/* host.shout(ptr, len) -> changed: upper-cases the caller's memory in place. */
static kiln_error_t *host_shout(void *env, kiln_caller_t *caller, const kiln_val_t *args, size_t nargs,
                                kiln_val_t *results, size_t nresults) {
  CHECK(env == SHOUT_ENV);
  CHECK(nargs == 2 && nresults == 1);
  CHECK(args[0].kind == KILN_I32 && args[1].kind == KILN_I32);
  CHECK(results[0].kind == KILN_I32 && results[0].of.i32 == 0);
  struct host_state *state = kiln_caller_data(caller);
  CHECK(state != NULL);
  state->shouts++;
  /* The store is running this call: the API refuses it, the caller serves. */
  kiln_error_t *busy = kiln_store_set_fuel(state->store, 1);
  if (busy != NULL && strstr(kiln_error_message(busy), "running Wasm") != NULL) {
    state->store_refusals++;
  }
  kiln_error_delete(busy);
  /* Deleting the running store does nothing: the call goes on. */
  kiln_store_delete(state->store);
  CHECK(kiln_store_data(state->store) == state);

  uint64_t size = 0;
  kiln_error_t *error = kiln_caller_memory_size(caller, "memory", &size);
  if (error != NULL) {
    return error;
  }
  CHECK(size == 65536);
  char text[64];
  uint32_t ptr = (uint32_t)args[0].of.i32, len = (uint32_t)args[1].of.i32;
  CHECK(len <= sizeof text);
  error = kiln_caller_memory_read(caller, "memory", ptr, text, len);
  if (error != NULL) {
    return error;
  }
  int changed = 0;
  for (uint32_t i = 0; i < len; i++) {
    if (text[i] >= 'a' && text[i] <= 'z') {
      text[i] = (char)(text[i] - 'a' + 'A');
      changed++;
    }
  }
  error = kiln_caller_memory_write(caller, "memory", ptr, text, len);
  if (error != NULL) {
    return error;
  }
  results[0].of.i32 = changed;
  return NULL;
}

/* host.misbehave(what) -> i32: 1 fails, 2 answers an i64, 3 reads out of
 * bounds and passes the trap on, 4 asks for a memory that is not there, 5
 * calls the caller API with NULLs, 6 calls the caller's `add` back, 7 its
 * `unreachable` and passes the trap on; anything else answers what * 2. */
static kiln_error_t *host_misbehave(void *env, kiln_caller_t *caller, const kiln_val_t *args, size_t nargs,
                                    kiln_val_t *results, size_t nresults) {
  (void)env;
  CHECK(nargs == 1 && nresults == 1);
  char byte;
  uint64_t size;
  switch (args[0].of.i32) {
  case 1:
    return kiln_error_new("refused by the host");
  case 2:
    results[0].kind = KILN_I64;
    results[0].of.i64 = 5;
    return NULL;
  case 3:
    return kiln_caller_memory_read(caller, "memory", 1 << 20, &byte, 1);
  case 4:
    return kiln_caller_memory_size(caller, "no_such_memory", &size);
  case 5:
    FAILS(kiln_caller_memory_size(NULL, "memory", &size), "caller is NULL");
    FAILS(kiln_caller_memory_size(caller, NULL, &size), "memory_name is NULL");
    FAILS(kiln_caller_memory_read(caller, "memory", 0, NULL, 1), "buf is NULL");
    FAILS(kiln_caller_memory_write(caller, "memory", 65535, "ab", 2), "out of bounds");
    CHECK(kiln_caller_data(NULL) == NULL);
    results[0].of.i32 = 5;
    return NULL;
  case 6: {
    kiln_func_t *add = NULL;
    kiln_error_t *error = kiln_caller_get_func(caller, "add", &add);
    if (error != NULL) {
      return error;
    }
    kiln_val_t operands[2] = {i32(20), i32(22)};
    FAILS(kiln_caller_func_call(caller, add, operands, 1, results, 1), "expected 2 arguments, got 1");
    error = kiln_caller_func_call(caller, add, operands, 2, results, 1);
    kiln_func_delete(add);
    return error;
  }
  case 7: {
    kiln_func_t *unreachable = NULL;
    FAILS(kiln_caller_get_func(caller, "no_such_export", &unreachable), "exports no function `no_such_export`");
    FAILS(kiln_caller_func_call(NULL, NULL, NULL, 0, NULL, 0), "caller is NULL");
    kiln_error_t *error = kiln_caller_get_func(caller, "unreachable", &unreachable);
    if (error == NULL) {
      error = kiln_caller_func_call(caller, unreachable, NULL, 0, NULL, 0);
      kiln_func_delete(unreachable);
    }
    return error;
  }
  default:
    results[0].of.i32 = args[0].of.i32 * 2;
    return NULL;
  }
}

/* ---- the tests --------------------------------------------------------- */

static void test_errors_and_nulls(void) {
  kiln_error_t *error = kiln_error_new("made by the host");
  CHECK(error != NULL);
  CHECK(strcmp(kiln_error_message(error), "made by the host") == 0);
  CHECK(!kiln_error_is_trap(error));
  kiln_trap_code_t code = 0;
  int32_t status = 0;
  CHECK(!kiln_error_trap_code(error, &code));
  CHECK(!kiln_error_exit_status(error, &status));
  kiln_error_delete(error);
  FAILS(kiln_error_new(NULL), "NULL");

  CHECK(kiln_error_message(NULL) == NULL);
  CHECK(!kiln_error_is_trap(NULL));
  CHECK(!kiln_error_trap_code(NULL, &code));
  CHECK(!kiln_error_exit_status(NULL, &status));
  kiln_error_delete(NULL);
  kiln_config_delete(NULL);
  kiln_engine_delete(NULL);
  kiln_module_delete(NULL);
  kiln_store_delete(NULL);
  kiln_linker_delete(NULL);
  kiln_instance_delete(NULL);
  kiln_func_delete(NULL);
  kiln_wasi_config_delete(NULL);
  CHECK(kiln_store_data(NULL) == NULL);

  FAILS(kiln_engine_new(NULL, NULL), "out is NULL");
  kiln_module_t *module = NULL;
  FAILS(kiln_module_from_file(NULL, "x.o", &module), "engine is NULL");
  CHECK(module == NULL);
  FAILS(kiln_engine_increment_epoch(NULL), "engine is NULL");
  FAILS(kiln_config_pooling_allocation(NULL, 1, 1, 65536), "config is NULL");
  kiln_store_t *store = NULL;
  FAILS(kiln_store_new(NULL, NULL, NULL, &store), "engine is NULL");
  FAILS(kiln_store_limiter(NULL, -1, -1, -1, -1, -1), "store is NULL");
  FAILS(kiln_store_set_fuel(NULL, 1), "store is NULL");
  FAILS(kiln_store_set_epoch_deadline(NULL, 1), "store is NULL");
  FAILS(kiln_store_set_max_wasm_stack(NULL, 1), "store is NULL");
  uint64_t fuel;
  FAILS(kiln_store_get_fuel(NULL, &fuel), "store is NULL");
  kiln_linker_t *linker = NULL;
  FAILS(kiln_linker_new(NULL, &linker), "engine is NULL");
  FAILS(kiln_linker_define_wasi(NULL), "linker is NULL");
  FAILS(kiln_func_call(NULL, NULL, NULL, 0, NULL, 0), "store is NULL");
  FAILS(kiln_wasi_config_arg(NULL, "x"), "config is NULL");
  FAILS(kiln_store_set_wasi(NULL, NULL), "config is NULL");
}

static void test_loading(const kiln_engine_t *engine, const char *dir) {
  char *missing = path_in(dir, "no_such_artifact.o");
  kiln_module_t *module = NULL;
  FAILS(kiln_module_from_file(engine, missing, &module), "no_such_artifact.o");
  CHECK(module == NULL);
  free(missing);
  FAILS(kiln_module_from_file(engine, NULL, &module), "path is NULL");

  char *path = path_in(dir, "api.o");
  size_t len = 0;
  uint8_t *bytes = read_file(path, &len);
  free(path);
  OK(kiln_module_from_bytes(engine, bytes, len, &module));
  CHECK(module != NULL);
  kiln_module_delete(module);

  /* Damaged: a byte flipped in the middle, then the file cut short. */
  module = NULL;
  bytes[len / 2] ^= 0x5a;
  kiln_error_t *error = kiln_module_from_bytes(engine, bytes, len, &module);
  CHECK(error != NULL && module == NULL);
  CHECK(strlen(kiln_error_message(error)) > 0);
  printf("damaged artifact: %s\n", kiln_error_message(error));
  kiln_error_delete(error);
  bytes[len / 2] ^= 0x5a;
  error = kiln_module_from_bytes(engine, bytes, len / 3, &module);
  CHECK(error != NULL && module == NULL);
  printf("truncated artifact: %s\n", kiln_error_message(error));
  kiln_error_delete(error);
  FAILS(kiln_module_from_bytes(engine, NULL, 10, &module), "bytes is NULL");
  FAILS(kiln_module_from_bytes(engine, bytes, 0, &module), "");
  free(bytes);
}

/* signed.o is api.wat signed with trusted.key; other.pub is another key. */
static void test_verified_loading(const kiln_engine_t *engine, const char *dir) {
  kiln_trusted_keys_t *keys = kiln_trusted_keys_new();
  CHECK(keys != NULL);
  char *signed_path = path_in(dir, "signed.o");
  char *unsigned_path = path_in(dir, "api.o");
  char *trusted_pub = path_in(dir, "trusted.pub");
  char *other_pub = path_in(dir, "other.pub");
  char *secret = path_in(dir, "trusted.key");
  kiln_module_t *module = NULL;

  FAILS(kiln_module_from_file_verified(engine, signed_path, keys, &module), "not trusted");
  CHECK(module == NULL);
  OK(kiln_trusted_keys_add_file(keys, other_pub));
  FAILS(kiln_module_from_file_verified(engine, signed_path, keys, &module), "not trusted");
  FAILS(kiln_trusted_keys_add_file(keys, secret), "expected a kiln-ed25519-public key");
  FAILS(kiln_trusted_keys_add_file(keys, NULL), "path is NULL");
  FAILS(kiln_trusted_keys_add(NULL, NULL), "keys is NULL");
  FAILS(kiln_trusted_keys_add(keys, NULL), "key is NULL");
  OK(kiln_trusted_keys_add_file(keys, trusted_pub));
  OK(kiln_module_from_file_verified(engine, signed_path, keys, &module));
  CHECK(module != NULL);
  kiln_module_delete(module);
  module = NULL;
  FAILS(kiln_module_from_file_verified(engine, unsigned_path, keys, &module), "not signed");
  FAILS(kiln_module_from_file_verified(engine, signed_path, NULL, &module), "keys is NULL");

  /* The public key's raw bytes: the signer field of the signed header
   * equals what kiln_trusted_keys_add takes, read here from the .pub text. */
  size_t len = 0;
  uint8_t *text = read_file(trusted_pub, &len);
  uint8_t raw[32];
  const char *hex = memchr(text, ' ', len);
  CHECK(hex != NULL && (size_t)(hex - (const char *)text) + 1 + 64 <= len);
  for (int i = 0; hex && i < 64; i++) {
    char digit = hex[1 + i];
    int value = digit >= 'a' ? digit - 'a' + 10 : digit - '0';
    CHECK(value >= 0 && value < 16);
    raw[i / 2] = (uint8_t)(i % 2 ? (raw[i / 2] << 4) | value : value);
  }
  free(text);
  kiln_trusted_keys_t *raw_keys = kiln_trusted_keys_new();
  OK(kiln_trusted_keys_add(raw_keys, raw));
  uint8_t *bytes = read_file(signed_path, &len);
  OK(kiln_module_from_bytes_verified(engine, bytes, len, raw_keys, &module));
  kiln_module_delete(module);
  module = NULL;
  /* A byte changed after signing, in the code: refused. */
  bytes[len / 2] ^= 0x01;
  kiln_error_t *error = kiln_module_from_bytes_verified(engine, bytes, len, raw_keys, &module);
  CHECK(error != NULL && module == NULL);
  printf("changed signed artifact: %s\n", kiln_error_message(error));
  kiln_error_delete(error);
  FAILS(kiln_module_from_bytes_verified(engine, NULL, 1, raw_keys, &module), "bytes is NULL");
  free(bytes);
  kiln_trusted_keys_delete(raw_keys);
  kiln_trusted_keys_delete(keys);
  kiln_trusted_keys_delete(NULL);
  free(signed_path);
  free(unsigned_path);
  free(trusted_pub);
  free(other_pub);
  free(secret);
}

static void test_pooling(const char *dir) {
  kiln_config_t *config = kiln_config_new();
  CHECK(config != NULL);
  OK(kiln_config_pooling_allocation(config, 1, 1, 1 << 20));
  kiln_engine_t *engine = NULL;
  OK(kiln_engine_new(config, &engine));
  kiln_config_delete(config);

  kiln_module_t *module = load(engine, dir, "fuel.o");
  kiln_linker_t *linker = NULL;
  OK(kiln_linker_new(engine, &linker));
  kiln_store_t *store = NULL;
  OK(kiln_store_new(engine, NULL, NULL, &store));
  kiln_instance_t *first = NULL, *second = NULL;
  OK(kiln_linker_instantiate(linker, store, module, &first));
  /* One instance slot: the second instantiation is refused. */
  FAILS(kiln_linker_instantiate(linker, store, module, &second), "instance");
  CHECK(second == NULL);
  kiln_instance_delete(first);
  kiln_store_delete(store);
  kiln_linker_delete(linker);
  kiln_module_delete(module);
  kiln_engine_delete(engine);
}

static kiln_linker_t *host_linker(const kiln_engine_t *engine) {
  kiln_linker_t *linker = NULL;
  OK(kiln_linker_new(engine, &linker));
  const kiln_valkind_t two_i32[2] = {KILN_I32, KILN_I32};
  const kiln_valkind_t one_i32[1] = {KILN_I32};
  OK(kiln_linker_define_func(linker, "host", "shout", two_i32, 2, one_i32, 1, host_shout, (void *)SHOUT_ENV,
                             finalize_env));
  OK(kiln_linker_define_func(linker, "host", "misbehave", one_i32, 1, one_i32, 1, host_misbehave, NULL, NULL));

  /* Refused definitions leave their env alone: no finalizer runs. */
  int before = envs_finalized;
  FAILS(kiln_linker_define_func(linker, "host", "shout", two_i32, 2, one_i32, 1, host_shout, NULL, finalize_env),
        "defined twice");
  const kiln_valkind_t bad[1] = {9};
  FAILS(kiln_linker_define_func(linker, "host", "bad", bad, 1, NULL, 0, host_shout, NULL, finalize_env),
        "unknown value kind 9");
  FAILS(kiln_linker_define_func(linker, "host", "null", NULL, 0, NULL, 0, NULL, NULL, finalize_env),
        "callback is NULL");
  FAILS(kiln_linker_define_func(linker, "host", "nullparams", NULL, 1, NULL, 0, host_shout, NULL, finalize_env),
        "params is NULL");
  CHECK(envs_finalized == before);
  return linker;
}

static void test_calls(const kiln_engine_t *engine, const char *dir) {
  kiln_module_t *module = load(engine, dir, "api.o");

  /* An import nobody defined. */
  kiln_linker_t *empty = NULL;
  OK(kiln_linker_new(engine, &empty));
  kiln_store_t *store = NULL;
  struct host_state state = {NULL, 0, 0};
  OK(kiln_store_new(engine, &state, finalize_store, &store));
  state.store = store;
  CHECK(kiln_store_data(store) == &state);
  kiln_instance_t *instance = NULL;
  FAILS(kiln_linker_instantiate(empty, store, module, &instance), "unknown import: `host`.`shout`");
  CHECK(instance == NULL);
  kiln_linker_delete(empty);

  kiln_linker_t *linker = host_linker(engine);
  OK(kiln_linker_instantiate(linker, store, module, &instance));
  FAILS(kiln_linker_instantiate(linker, store, module, NULL), "out is NULL");

  /* Plain calls, and every kind both ways. */
  kiln_func_t *add = get_func(store, instance, "add");
  int32_t result = 0;
  OK(call_i32(store, add, 2, 2, 3, &result));
  CHECK(result == 5);
  kiln_func_t *kinds = get_func(store, instance, "kinds");
  kiln_val_t args[3], results[4];
  args[0].kind = KILN_I64;
  args[0].of.i64 = INT64_C(1) << 40;
  args[1].kind = KILN_F32;
  args[1].of.f32 = 1.25f;
  args[2].kind = KILN_F64;
  args[2].of.f64 = 2.0;
  OK(kiln_func_call(store, kinds, args, 3, results, 4));
  CHECK(results[0].kind == KILN_I64 && results[0].of.i64 == (INT64_C(1) << 40) + 1);
  CHECK(results[1].kind == KILN_F32 && results[1].of.f32 == 2.5f);
  CHECK(results[2].kind == KILN_F64 && results[2].of.f64 == 2.5);
  CHECK(results[3].kind == KILN_I64 && results[3].of.i64 == INT64_C(1) << 40);

  /* Wrong arity, kinds and signatures: errors before anything runs. */
  FAILS(call_i32(store, add, 1, 2, 3, &result), "expected 2 arguments, got 1");
  FAILS(kiln_func_call(store, add, args, 2, results, 1), "argument 0: expected i32, got i64");
  kiln_val_t two[2] = {i32(1), i32(2)};
  FAILS(kiln_func_call(store, add, two, 2, results, 2), "expected room for 1 result, got 2");
  FAILS(kiln_func_call(store, add, two, 2, results, SIZE_MAX), "expected room for 1 result,");
  FAILS(kiln_func_call(store, add, NULL, SIZE_MAX, results, 1), "expected 2 arguments");
  FAILS(kiln_func_call(store, add, two, 2, NULL, 1), "results is NULL");
  FAILS(kiln_func_call(store, add, NULL, 2, results, 1), "args is NULL");
  two[1].kind = 7;
  FAILS(kiln_func_call(store, add, two, 2, results, 1), "unknown value kind 7");
  kiln_func_t *externref = get_func(store, instance, "identity_externref");
  FAILS(kiln_func_call(store, externref, NULL, 0, NULL, 0), "does not pass");
  kiln_func_delete(externref);
  kiln_func_t *missing = NULL;
  FAILS(kiln_instance_get_func(store, instance, "no_such_export", &missing), "no function `no_such_export`");
  CHECK(missing == NULL);
  FAILS(kiln_instance_get_func(store, NULL, "add", &missing), "instance is NULL");

  /* A host function reading and writing the caller's memory. */
  kiln_func_t *shout = get_func(store, instance, "shout_greeting");
  kiln_val_t changed;
  OK(kiln_func_call(store, shout, NULL, 0, &changed, 1));
  CHECK(changed.kind == KILN_I32 && changed.of.i32 == 9);
  CHECK(state.shouts == 1 && state.store_refusals == 1);
  char text[12] = {0};
  OK(kiln_instance_memory_read(store, instance, "memory", 16, text, 11));
  CHECK(strcmp(text, "HELLO, KILN") == 0);
  OK(kiln_instance_memory_write(store, instance, "memory", 16, "quiet", 5));
  OK(kiln_func_call(store, shout, NULL, 0, &changed, 1));
  CHECK(changed.of.i32 == 5);
  OK(kiln_instance_memory_read(store, instance, "memory", 16, text, 11));
  CHECK(strcmp(text, "QUIET, KILN") == 0);
  uint64_t size = 0;
  OK(kiln_instance_memory_size(store, instance, "memory", &size));
  CHECK(size == 65536);
  TRAPS(kiln_instance_memory_read(store, instance, "memory", 65530, text, 11), KILN_TRAP_CODE_MEMORY_OUT_OF_BOUNDS,
        "out of bounds memory access");
  TRAPS(kiln_instance_memory_write(store, instance, "memory", UINT64_MAX, text, 1),
        KILN_TRAP_CODE_MEMORY_OUT_OF_BOUNDS, "out of bounds");
  FAILS(kiln_instance_memory_size(store, instance, "no_such_memory", &size), "exports no memory");
  kiln_func_delete(shout);

  /* Host functions failing: each error becomes the call's. */
  kiln_func_t *misbehave = get_func(store, instance, "misbehave");
  OK(call_i32(store, misbehave, 1, 21, 0, &result));
  CHECK(result == 42);
  kiln_error_t *error = call_i32(store, misbehave, 1, 1, 0, &result);
  CHECK(error != NULL && !kiln_error_is_trap(error));
  CHECK(strstr(kiln_error_message(error), "refused by the host") != NULL);
  kiln_error_delete(error);
  FAILS(call_i32(store, misbehave, 1, 2, 0, &result), "result 0: expected i32, got i64");
  TRAPS(call_i32(store, misbehave, 1, 3, 0, &result), KILN_TRAP_CODE_MEMORY_OUT_OF_BOUNDS,
        "out of bounds memory access");
  FAILS(call_i32(store, misbehave, 1, 4, 0, &result), "exports no memory `no_such_memory`");
  OK(call_i32(store, misbehave, 1, 5, 0, &result));
  CHECK(result == 5);
  OK(call_i32(store, misbehave, 1, 6, 0, &result));
  CHECK(result == 42);
  TRAPS(call_i32(store, misbehave, 1, 7, 0, &result), KILN_TRAP_CODE_UNREACHABLE, "unreachable");
  kiln_func_delete(misbehave);

  /* Traps, after which the store goes on. */
  kiln_func_t *unreachable = get_func(store, instance, "unreachable");
  TRAPS(kiln_func_call(store, unreachable, NULL, 0, NULL, 0), KILN_TRAP_CODE_UNREACHABLE, "wasm trap: unreachable");
  kiln_func_delete(unreachable);
  kiln_func_t *div = get_func(store, instance, "div");
  OK(call_i32(store, div, 2, 7, 2, &result));
  CHECK(result == 3);
  TRAPS(call_i32(store, div, 2, 7, 0, &result), KILN_TRAP_CODE_INTEGER_DIVISION_BY_ZERO, "integer divide by zero");
  TRAPS(call_i32(store, div, 2, INT32_MIN, -1, &result), KILN_TRAP_CODE_INTEGER_OVERFLOW, "integer overflow");
  kiln_func_delete(div);
  OK(kiln_store_set_max_wasm_stack(store, 64 * 1024));
  kiln_func_t *recurse = get_func(store, instance, "recurse");
  TRAPS(call_i32(store, recurse, 1, 0, 0, &result), KILN_TRAP_CODE_STACK_OVERFLOW, "call stack exhausted");
  kiln_func_delete(recurse);
  OK(call_i32(store, add, 2, 40, 2, &result));
  CHECK(result == 42);

  /* Uninstrumented code: no fuel, no deadline. */
  FAILS(kiln_store_set_fuel(store, 100), "fuel");
  uint64_t fuel = 0;
  FAILS(kiln_store_get_fuel(store, &fuel), "fuel");
  FAILS(kiln_store_set_epoch_deadline(store, 1), "epoch");

  /* Handles of one store used with another. */
  kiln_store_t *other = NULL;
  OK(kiln_store_new(engine, NULL, NULL, &other));
  FAILS(kiln_instance_get_func(other, instance, "add", &missing), "another store");
  FAILS(call_i32(other, add, 2, 1, 2, &result), "another store");
  FAILS(kiln_instance_memory_size(other, instance, "memory", &size), "another store");
  kiln_store_delete(other);

  /* The env finalizer waits for the store that holds the function. */
  kiln_linker_delete(linker);
  CHECK(envs_finalized == 0);
  kiln_func_delete(add);
  kiln_func_delete(kinds);
  kiln_instance_delete(instance);
  kiln_store_delete(store);
  CHECK(store_finalized == 1 && store_finalized_with == &state);
  CHECK(envs_finalized == 1);
  kiln_module_delete(module);
}

static void test_limits(const kiln_engine_t *engine, const char *dir) {
  kiln_module_t *module = load(engine, dir, "api.o");
  kiln_linker_t *linker = host_linker(engine);

  /* 32 KiB per memory: the module's one page is refused. */
  kiln_store_t *store = NULL;
  OK(kiln_store_new(engine, NULL, NULL, &store));
  OK(kiln_store_limiter(store, 32 * 1024, -1, -1, -1, -1));
  kiln_instance_t *instance = NULL;
  kiln_error_t *error = kiln_linker_instantiate(linker, store, module, &instance);
  CHECK(error != NULL && instance == NULL);
  printf("memory limit: %s\n", kiln_error_message(error));
  kiln_error_delete(error);
  kiln_store_delete(store);

  /* Two pages: one memory.grow of one page passes, the next returns -1. */
  OK(kiln_store_new(engine, NULL, NULL, &store));
  OK(kiln_store_limiter(store, 2 * 65536, -1, -1, -1, -1));
  OK(kiln_linker_instantiate(linker, store, module, &instance));
  kiln_func_t *grow = get_func(store, instance, "grow");
  int32_t result = 0;
  OK(call_i32(store, grow, 1, 1, 0, &result));
  CHECK(result == 1);
  OK(call_i32(store, grow, 1, 1, 0, &result));
  CHECK(result == -1);
  uint64_t size = 0;
  OK(kiln_instance_memory_size(store, instance, "memory", &size));
  CHECK(size == 2 * 65536);
  kiln_func_delete(grow);
  kiln_instance_delete(instance);
  kiln_store_delete(store);

  /* No instance at all. */
  OK(kiln_store_new(engine, NULL, NULL, &store));
  OK(kiln_store_limiter(store, -1, -1, 0, -1, -1));
  FAILS(kiln_linker_instantiate(linker, store, module, &instance), "instance");
  kiln_store_delete(store);

  kiln_linker_delete(linker);
  kiln_module_delete(module);
}

static void test_fuel(const kiln_engine_t *engine, const char *dir) {
  kiln_module_t *module = load(engine, dir, "fuel.o");
  kiln_linker_t *linker = NULL;
  OK(kiln_linker_new(engine, &linker));
  kiln_store_t *store = NULL;
  OK(kiln_store_new(engine, NULL, NULL, &store));
  OK(kiln_store_set_fuel(store, 10000));
  kiln_instance_t *instance = NULL;
  OK(kiln_linker_instantiate(linker, store, module, &instance));
  kiln_func_t *count = get_func(store, instance, "count");
  int32_t result = 0;
  OK(call_i32(store, count, 1, 10, 0, &result));
  CHECK(result == 10);
  uint64_t fuel = 0;
  OK(kiln_store_get_fuel(store, &fuel));
  CHECK(fuel > 0 && fuel < 10000);
  TRAPS(call_i32(store, count, 1, 1000000, 0, &result), KILN_TRAP_CODE_OUT_OF_FUEL, "all fuel consumed");
  OK(kiln_store_get_fuel(store, &fuel));
  CHECK(fuel < 10000);
  FAILS(kiln_store_get_fuel(store, NULL), "fuel is NULL");
  /* Refuelled, it runs again. */
  OK(kiln_store_set_fuel(store, 10000));
  OK(call_i32(store, count, 1, 10, 0, &result));
  CHECK(result == 10);
  kiln_func_delete(count);
  kiln_instance_delete(instance);
  kiln_store_delete(store);
  kiln_linker_delete(linker);
  kiln_module_delete(module);
}

/* Ends a call that never returns: the epoch ticks after a while. */
static void *tick_later(void *engine) {
  struct timespec pause = {0, 50 * 1000 * 1000};
  nanosleep(&pause, NULL);
  kiln_error_t *error = kiln_engine_increment_epoch(engine);
  kiln_error_delete(error);
  return error == NULL ? engine : NULL;
}

/* The deadline callback's env: how often it ran, and when to give up. */
struct deadline_state {
  int calls;
  int give_up_after;
  void *data_seen;
};

static int deadline_envs_finalized;
static void finalize_deadline_env(void *env) {
  (void)env;
  deadline_envs_finalized++;
}

/* Lets the code go on to the next check, until it has run give_up_after
 * times. */
static kiln_error_t *on_deadline(void *env, void *data, uint64_t *continue_ticks) {
  struct deadline_state *state = env;
  state->calls++;
  state->data_seen = data;
  if (state->calls > state->give_up_after) {
    return kiln_error_new("time is up");
  }
  *continue_ticks = 0;
  return NULL;
}

static void test_epoch_callback(const kiln_engine_t *engine, const kiln_module_t *module) {
  int store_data = 7;
  kiln_linker_t *linker = NULL;
  OK(kiln_linker_new(engine, &linker));
  kiln_store_t *store = NULL;
  OK(kiln_store_new(engine, &store_data, NULL, &store));
  kiln_instance_t *instance = NULL;
  OK(kiln_linker_instantiate(linker, store, module, &instance));
  kiln_func_t *count = get_func(store, instance, "count");
  kiln_func_t *forever = get_func(store, instance, "forever");

  /* A deadline of 0 ticks is reached at every check: the callback decides. */
  struct deadline_state state = {0, 1000000, NULL};
  OK(kiln_store_epoch_deadline_callback(store, on_deadline, &state, finalize_deadline_env));
  OK(kiln_store_set_epoch_deadline(store, 0));
  int32_t result = 0;
  OK(call_i32(store, count, 1, 10, 0, &result));
  CHECK(result == 10);
  CHECK(state.calls >= 10 && state.data_seen == &store_data);

  /* Giving up is the call's error. */
  struct deadline_state strict = {0, 3, NULL};
  OK(kiln_store_epoch_deadline_callback(store, on_deadline, &strict, finalize_deadline_env));
  CHECK(deadline_envs_finalized == 1);
  kiln_error_t *error = kiln_func_call(store, forever, NULL, 0, NULL, 0);
  CHECK(error != NULL && !kiln_error_is_trap(error));
  CHECK(strstr(kiln_error_message(error), "time is up") != NULL);
  kiln_error_delete(error);
  CHECK(strict.calls == 4);

  /* Without a callback, the deadline traps again. */
  OK(kiln_store_epoch_deadline_callback(store, NULL, NULL, NULL));
  CHECK(deadline_envs_finalized == 2);
  TRAPS(kiln_func_call(store, forever, NULL, 0, NULL, 0), KILN_TRAP_CODE_INTERRUPT, "interrupted");
  FAILS(kiln_store_epoch_deadline_callback(NULL, on_deadline, &strict, finalize_deadline_env), "store is NULL");

  /* Deleting the store finalizes the callback it holds. */
  OK(kiln_store_epoch_deadline_callback(store, on_deadline, &strict, finalize_deadline_env));
  kiln_func_delete(count);
  kiln_func_delete(forever);
  kiln_instance_delete(instance);
  kiln_store_delete(store);
  CHECK(deadline_envs_finalized == 3);
  kiln_linker_delete(linker);
}

static void test_epoch(const kiln_engine_t *engine, const char *dir) {
  kiln_module_t *module = load(engine, dir, "epoch.o");
  kiln_linker_t *linker = NULL;
  OK(kiln_linker_new(engine, &linker));
  kiln_store_t *store = NULL;
  OK(kiln_store_new(engine, NULL, NULL, &store));
  kiln_instance_t *instance = NULL;
  OK(kiln_linker_instantiate(linker, store, module, &instance));
  kiln_func_t *count = get_func(store, instance, "count");
  kiln_func_t *forever = get_func(store, instance, "forever");
  /* No deadline yet: nothing fires. */
  int32_t result = 0;
  OK(call_i32(store, count, 1, 1000, 0, &result));
  CHECK(result == 1000);

  OK(kiln_store_set_epoch_deadline(store, 1));
  pthread_t timer;
  CHECK(pthread_create(&timer, NULL, tick_later, (void *)engine) == 0);
  TRAPS(kiln_func_call(store, forever, NULL, 0, NULL, 0), KILN_TRAP_CODE_INTERRUPT, "interrupted");
  void *ticked = NULL;
  CHECK(pthread_join(timer, &ticked) == 0 && ticked == engine);

  /* A fresh deadline lets short calls run again. */
  OK(kiln_store_set_epoch_deadline(store, 1000));
  OK(call_i32(store, count, 1, 10, 0, &result));
  CHECK(result == 10);
  kiln_func_delete(count);
  kiln_func_delete(forever);
  kiln_instance_delete(instance);
  kiln_store_delete(store);
  kiln_linker_delete(linker);
  test_epoch_callback(engine, module);
  kiln_module_delete(module);
}

/* Runs `_start` of `module` in a store with WASI state `config` (NULL:
 * none) and returns the error of the call. */
static kiln_error_t *run_command(const kiln_engine_t *engine, const kiln_linker_t *linker,
                                 const kiln_module_t *module, kiln_wasi_config_t *config) {
  kiln_store_t *store = NULL;
  OK(kiln_store_new(engine, NULL, NULL, &store));
  if (config != NULL) {
    OK(kiln_store_set_wasi(store, config));
  }
  kiln_instance_t *instance = NULL;
  OK(kiln_linker_instantiate(linker, store, module, &instance));
  kiln_func_t *start = get_func(store, instance, "_start");
  kiln_error_t *error = kiln_func_call(store, start, NULL, 0, NULL, 0);
  kiln_func_delete(start);
  kiln_instance_delete(instance);
  kiln_store_delete(store);
  return error;
}

static void test_wasi(const kiln_engine_t *engine, const char *dir) {
  kiln_linker_t *linker = NULL;
  OK(kiln_linker_new(engine, &linker));
  OK(kiln_linker_define_wasi(linker));

  /* hello.wat writes its greeting to the inherited stdout, exits with 3. */
  kiln_module_t *hello = load(engine, dir, "hello.o");
  kiln_wasi_config_t *config = kiln_wasi_config_new();
  CHECK(config != NULL);
  OK(kiln_wasi_config_arg(config, "hello"));
  OK(kiln_wasi_config_inherit_stdio(config));
  fflush(stdout);
  expect_exit(run_command(engine, linker, hello, config), 3, __LINE__);
  /* Without WASI state its stdout is closed: fd_write fails, and it traps. */
  TRAPS(run_command(engine, linker, hello, NULL), KILN_TRAP_CODE_UNREACHABLE, "unreachable");
  kiln_module_delete(hello);

  /* wasi_files.wat writes argv[1] and its environment beneath fd 3. */
  char sandbox[] = "/tmp/kiln-capi-XXXXXX";
  CHECK(mkdtemp(sandbox) != NULL);
  kiln_module_t *files = load(engine, dir, "wasi_files.o");
  config = kiln_wasi_config_new();
  OK(kiln_wasi_config_arg(config, "wasi_files"));
  OK(kiln_wasi_config_arg(config, "argv-one"));
  OK(kiln_wasi_config_env(config, "GREETING", "hi"));
  FAILS(kiln_wasi_config_env(config, "A=B", "c"), "contains `=`");
  FAILS(kiln_wasi_config_env(config, NULL, "c"), "key is NULL");
  OK(kiln_wasi_config_preopen_dir(config, sandbox, "/sandbox"));
  FAILS(kiln_wasi_config_preopen_dir(config, "/no/such/kiln/dir", "/x"), "/no/such/kiln/dir");
  expect_exit(run_command(engine, linker, files, config), 0, __LINE__);
  char *out = path_in(sandbox, "out.txt");
  size_t len = 0;
  uint8_t *written = read_file(out, &len);
  const char expected[] = "argv-one\nGREETING=hi\n";
  CHECK(len == sizeof expected - 1 && memcmp(written, expected, len) == 0);
  free(written);
  CHECK(unlink(out) == 0);
  free(out);
  CHECK(rmdir(sandbox) == 0);

  /* The wrong arguments: the command says so with its exit status. */
  config = kiln_wasi_config_new();
  OK(kiln_wasi_config_arg(config, "wasi_files"));
  expect_exit(run_command(engine, linker, files, config), 90, __LINE__);
  kiln_module_delete(files);

  /* A configuration never used is deleted; one given is taken over even
   * when refused (procfs is a kernel filesystem). */
  kiln_wasi_config_delete(kiln_wasi_config_new());
  kiln_store_t *store = NULL;
  OK(kiln_store_new(engine, NULL, NULL, &store));
  config = kiln_wasi_config_new();
  OK(kiln_wasi_config_preopen_dir(config, "/proc", "/proc"));
  FAILS(kiln_store_set_wasi(store, config), "refusing to preopen");
  kiln_store_delete(store);
  kiln_linker_delete(linker);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s FIXTURES\n", argv[0]);
    return 2;
  }
  const char *dir = argv[1];
  test_errors_and_nulls();

  kiln_engine_t *engine = NULL;
  OK(kiln_engine_new(NULL, &engine));
  CHECK(engine != NULL);
  test_loading(engine, dir);
  test_verified_loading(engine, dir);
  test_pooling(dir);
  test_calls(engine, dir);
  test_limits(engine, dir);
  test_fuel(engine, dir);
  test_epoch(engine, dir);
  test_wasi(engine, dir);
  kiln_engine_delete(engine);

  printf("ok: %d checks passed\n", checks);
  return 0;
}
