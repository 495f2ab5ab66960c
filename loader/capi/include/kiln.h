/*
 * kiln.h: the C API of the kiln loader.
 *
 * kiln runs WebAssembly compiled ahead of time: `kilnc module.wasm -o
 * module.o` makes an artifact (a relocatable ELF object with kiln's
 * sections, see format-spec/SPEC.md), and this library loads it, links its
 * imports, instantiates it and calls its exports. The API follows the Rust
 * API of kiln-loader (loader/src/lib.rs), whose names follow Wasmtime's:
 *
 *   kiln_engine_t    shared runtime state (thread-safe)
 *   kiln_module_t    a loaded artifact, instantiable any number of times
 *   kiln_store_t     the instances, memories and host state of one tenant
 *   kiln_linker_t    named host functions (and WASI) that satisfy imports
 *   kiln_instance_t  an instance of a module in a store
 *   kiln_func_t      an exported function of an instance
 *   kiln_caller_t    a host function's view of its call: data, memory, calls back
 *   kiln_error_t     why something failed: a message, and trap or exit info
 *
 * A minimal embedding (error checks shortened):
 *
 *   kiln_engine_t *engine;   kiln_engine_new(NULL, &engine);
 *   kiln_module_t *module;   kiln_module_from_file(engine, "add.o", &module);
 *   kiln_linker_t *linker;   kiln_linker_new(engine, &linker);
 *   kiln_store_t *store;     kiln_store_new(engine, NULL, NULL, &store);
 *   kiln_instance_t *inst;   kiln_linker_instantiate(linker, store, module, &inst);
 *   kiln_func_t *add;        kiln_instance_get_func(store, inst, "add", &add);
 *   kiln_val_t args[2] = { { KILN_I32, { .i32 = 2 } }, { KILN_I32, { .i32 = 3 } } };
 *   kiln_val_t result;
 *   kiln_error_t *error = kiln_func_call(store, add, args, 2, &result, 1);
 *   if (error) { puts(kiln_error_message(error)); kiln_error_delete(error); }
 *   kiln_func_delete(add); kiln_instance_delete(inst); kiln_store_delete(store);
 *   kiln_linker_delete(linker); kiln_module_delete(module); kiln_engine_delete(engine);
 *
 * Building: `cargo build --release -p kiln-capi` makes target/release/libkiln.a
 * and libkiln.so. Link the static library with the system libraries it needs:
 *
 *   cc -std=c99 app.c -I loader/capi/include target/release/libkiln.a -lpthread -ldl -lm
 *
 * or the shared one with `-L target/release -lkiln`.
 *
 * Conventions, the same for every function:
 *
 * - A function that can fail returns `kiln_error_t *`: NULL on success, or
 *   an error that the caller owns and frees with kiln_error_delete. Results
 *   come back through out-pointers, which are written only on success.
 * - A NULL pointer where the function needs an object, a string or an
 *   out-pointer is an error (returned, never a crash). `*_delete(NULL)` does
 *   nothing. Strings passed in are NUL-terminated UTF-8 and copied: the
 *   caller may free them when the function returns. File paths, WASI
 *   arguments and environment variables are taken as bytes, UTF-8 or not.
 * - Every object made by a `*_new`, `*_from_*`, `*_get_*` or instantiate
 *   function is owned by the caller and freed with its `*_delete`; none is
 *   freed implicitly (except a kiln_wasi_config_t given to
 *   kiln_store_set_wasi, and errors returned by host callbacks, which the
 *   library takes over).
 * - Objects keep alive what they need: an engine may be deleted before its
 *   modules, linkers and stores, a module before its instances. Instances
 *   and functions are handles into their store: they own nothing, are used
 *   together with that store (another store is an error), and deleting the
 *   store makes them useless (deleting them afterwards is still required
 *   and safe).
 * - Engines, modules and linkers may be used from any thread, and
 *   concurrently by the functions that take them as `const` (a linker
 *   instantiating in stores on several threads, say); the others
 *   (kiln_linker_define_*, kiln_config_*) need the object to themselves.
 *   A store, and what belongs to it, must be used by one thread at a time.
 *   While a store is running Wasm (inside kiln_func_call or
 *   kiln_linker_instantiate), its host callbacks reach it only through
 *   their kiln_caller_t: passing that store to another function is an
 *   error (kiln_store_data excepted; kiln_store_delete does nothing).
 * - No Rust panic crosses this API: an internal failure becomes an error.
 * - Only i32, i64, f32 and f64 values cross this API. Functions whose
 *   signatures have v128, funcref, externref or GC reference types can be
 *   neither defined nor called here (an error says so); such modules are
 *   still loaded and instantiated, and may use them internally.
 *
 * Loading artifacts runs their native code: kiln_module_from_file and
 * kiln_module_from_bytes load an UNVERIFIED artifact, so the caller vouches
 * that it comes from a trusted kilnc. kiln_module_from_file_verified and
 * kiln_module_from_bytes_verified load one only once its Ed25519 signature
 * (`kilnc --sign`, `kiln sign`) is found to be by one of a
 * kiln_trusted_keys_t's public keys, before any of it is made executable.
 *
 * Signals: the first store made installs handlers for SIGSEGV, SIGBUS,
 * SIGILL and SIGFPE (with SA_ONSTACK, on an alternate stack the library
 * gives each thread that runs Wasm without one of at least 64 KiB). A
 * signal raised by Wasm code is its trap; any other goes on to the handler
 * that was installed before, so an embedder that installs its own
 * afterwards must chain to the previous one in the same way. Under
 * valgrind, pass --sigill-diagnostics=no to silence its note on each ud2
 * that `unreachable` compiles to.
 *
 * Fuel and epoch interruption are chosen when compiling (`kilnc --fuel`,
 * `kilnc --epoch-interruption`), not in the engine's configuration; a store
 * then gives the fuel (kiln_store_set_fuel) or the deadline
 * (kiln_store_set_epoch_deadline, with kiln_engine_increment_epoch from
 * any thread, say a timer's).
 */
#ifndef KILN_H
#define KILN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------ */

/* Why an operation failed: a message, whether it is a Wasm trap (and its
 * code), and whether it is a WASI exit (and its status). */
typedef struct kiln_error kiln_error_t;

/* The trap codes of format-spec (TrapCode, whose byte is each value here;
 * loader/capi/tests/c_api.rs checks that the two agree). */
typedef uint8_t kiln_trap_code_t;
enum kiln_trap_code_enum {
  KILN_TRAP_CODE_STACK_OVERFLOW = 1,           /* call stack exhausted */
  KILN_TRAP_CODE_MEMORY_OUT_OF_BOUNDS = 2,     /* out of bounds memory access */
  KILN_TRAP_CODE_TABLE_OUT_OF_BOUNDS = 3,      /* out of bounds table access */
  KILN_TRAP_CODE_INDIRECT_CALL_TO_NULL = 4,    /* uninitialized element */
  KILN_TRAP_CODE_BAD_SIGNATURE = 5,            /* indirect call type mismatch */
  KILN_TRAP_CODE_UNDEFINED_ELEMENT = 6,        /* undefined element */
  KILN_TRAP_CODE_INTEGER_OVERFLOW = 7,         /* integer overflow */
  KILN_TRAP_CODE_INTEGER_DIVISION_BY_ZERO = 8, /* integer divide by zero */
  KILN_TRAP_CODE_BAD_CONVERSION_TO_INTEGER = 9, /* invalid conversion to integer */
  KILN_TRAP_CODE_UNREACHABLE = 10,             /* unreachable */
  KILN_TRAP_CODE_NULL_REFERENCE = 11,          /* null reference */
  KILN_TRAP_CODE_INTERRUPT = 12,               /* interrupted (epoch deadline) */
  KILN_TRAP_CODE_OUT_OF_FUEL = 13,             /* all fuel consumed */
  KILN_TRAP_CODE_NULL_FUNCTION_REFERENCE = 14, /* null function reference */
  KILN_TRAP_CODE_UNALIGNED_ATOMIC = 15,        /* unaligned atomic */
  KILN_TRAP_CODE_EXPECTED_SHARED_MEMORY = 16,  /* expected shared memory */
  KILN_TRAP_CODE_NULL_STRUCT_REFERENCE = 17,   /* null structure reference */
  KILN_TRAP_CODE_NULL_ARRAY_REFERENCE = 18,    /* null array reference */
  KILN_TRAP_CODE_NULL_I31_REFERENCE = 19,      /* null i31 reference */
  KILN_TRAP_CODE_CAST_FAILURE = 20,            /* cast failure */
  KILN_TRAP_CODE_ARRAY_OUT_OF_BOUNDS = 21,     /* out of bounds array access */
  KILN_TRAP_CODE_GC_HEAP_EXHAUSTED = 22,       /* GC heap out of memory */
  KILN_TRAP_CODE_ALLOCATION_TOO_LARGE = 23,    /* allocation size too large */
};

/* A new error with `message` (copied), for a host callback to return.
 * NULL gives an error saying the message was NULL. The caller owns the
 * result (kiln_error_delete), unless it returns it from a host callback,
 * which hands it to the library. */
kiln_error_t *kiln_error_new(const char *message);

/* The error's message, NUL-terminated UTF-8. Owned by the error: valid
 * until kiln_error_delete, never to be freed by the caller. A trap reads
 * "wasm trap: <message of the specification>" (e.g. "wasm trap:
 * unreachable"), an error a host callback returned "host error: <its
 * message>". NULL for a NULL error. */
const char *kiln_error_message(const kiln_error_t *error);

/* Whether the error is a Wasm trap (raised by Wasm code or by the runtime
 * on its behalf: an out-of-bounds access by the host counts too). A host
 * callback's own error, a link error or an exit is not. false for NULL. */
bool kiln_error_is_trap(const kiln_error_t *error);

/* The trap's code, into *code, if the error is a trap that has one: true
 * then, false (and *code untouched) otherwise or if an argument is NULL. */
bool kiln_error_trap_code(const kiln_error_t *error, kiln_trap_code_t *code);

/* The exit status, into *status, if the error is a WASI `proc_exit` (a
 * command ending with status 0 included): true then, false (and *status
 * untouched) otherwise or if an argument is NULL. */
bool kiln_error_exit_status(const kiln_error_t *error, int32_t *status);

/* Frees the error and its message. NULL does nothing. */
void kiln_error_delete(kiln_error_t *error);

/* ------------------------------------------------------------------------
 * Engine
 * ------------------------------------------------------------------------ */

/* Settings an engine is made with. */
typedef struct kiln_config kiln_config_t;

/* Shared runtime state. Thread-safe: one engine serves any threads. */
typedef struct kiln_engine kiln_engine_t;

/* A configuration with the defaults (on-demand allocation). Never NULL;
 * freed with kiln_config_delete. */
kiln_config_t *kiln_config_new(void);

/* Frees the configuration; engines made with it are not affected. NULL
 * does nothing. */
void kiln_config_delete(kiln_config_t *config);

/* Makes engines of `config` allocate instances, memories and tables from
 * slots reserved once, when the engine is made (the pooling allocator):
 * at most `total_instances` instances and `total_memories` memories alive
 * at once over all stores of the engine, each memory of at most
 * `max_memory_size` bytes. Every memory slot reserves 8 GiB of address
 * space (not memory). Instantiating past a limit is an error. */
kiln_error_t *kiln_config_pooling_allocation(kiln_config_t *config, uint32_t total_instances,
                                             uint32_t total_memories, size_t max_memory_size);

/* A new engine, into *out, configured by `config` (NULL: the defaults;
 * the configuration is only read, and stays the caller's). Fails when the
 * pooling allocator cannot reserve its slots. */
kiln_error_t *kiln_engine_new(const kiln_config_t *config, kiln_engine_t **out);

/* Advances the engine's epoch by one tick: code compiled with `kilnc
 * --epoch-interruption` in a store whose deadline this reaches traps with
 * KILN_TRAP_CODE_INTERRUPT at its next function entry or loop header.
 * Callable from any thread, concurrently with running Wasm. */
kiln_error_t *kiln_engine_increment_epoch(const kiln_engine_t *engine);

/* Releases the caller's engine. Modules, linkers and stores made with it
 * keep what they need of it. NULL does nothing. */
void kiln_engine_delete(kiln_engine_t *engine);

/* ------------------------------------------------------------------------
 * Modules
 * ------------------------------------------------------------------------ */

/* A loaded, relocated artifact of one engine. */
typedef struct kiln_module kiln_module_t;

/* Loads the artifact at `path` (made by kilnc) into *out. UNVERIFIED: the
 * artifact's native code will run, so it must come from a trusted source.
 * A missing, truncated or damaged file is an error saying what is wrong.
 * Artifacts from anywhere else: kiln_module_from_file_verified. */
kiln_error_t *kiln_module_from_file(const kiln_engine_t *engine, const char *path, kiln_module_t **out);

/* Loads an artifact from `len` bytes at `bytes` (copied: the caller may
 * free them afterwards) into *out. UNVERIFIED, as kiln_module_from_file. */
kiln_error_t *kiln_module_from_bytes(const kiln_engine_t *engine, const uint8_t *bytes, size_t len,
                                     kiln_module_t **out);

/* Public keys whose signatures the verified loads accept. Owned by the
 * caller (kiln_trusted_keys_delete); the loads only borrow it. */
typedef struct kiln_trusted_keys kiln_trusted_keys_t;

/* A new, empty set: every verified load is refused until a key is added.
 * Never NULL. */
kiln_trusted_keys_t *kiln_trusted_keys_new(void);

/* Adds the 32-byte Ed25519 public key at `key` (copied). An invalid key is
 * an error. */
kiln_error_t *kiln_trusted_keys_add(kiln_trusted_keys_t *keys, const uint8_t *key);

/* Adds the key of the public key file at `path` (`kiln keygen NAME` writes
 * NAME.pub). A missing file, or a secret key, is an error. */
kiln_error_t *kiln_trusted_keys_add_file(kiln_trusted_keys_t *keys, const char *path);

/* Releases the set. NULL does nothing. */
void kiln_trusted_keys_delete(kiln_trusted_keys_t *keys);

/* Loads the artifact at `path` as kiln_module_from_file does, once it is
 * found signed by one of `keys` and unchanged since; an unsigned artifact,
 * one signed by another key and one changed after signing are errors
 * saying which. Safe for artifacts from anywhere, as long as nobody
 * untrusted writes the file while the module is loaded. */
kiln_error_t *kiln_module_from_file_verified(const kiln_engine_t *engine, const char *path,
                                             const kiln_trusted_keys_t *keys, kiln_module_t **out);

/* kiln_module_from_file_verified for `len` bytes at `bytes` (copied). */
kiln_error_t *kiln_module_from_bytes_verified(const kiln_engine_t *engine, const uint8_t *bytes, size_t len,
                                              const kiln_trusted_keys_t *keys, kiln_module_t **out);

/* Releases the caller's module; its instances keep their code. NULL does
 * nothing. */
void kiln_module_delete(kiln_module_t *module);

/* ------------------------------------------------------------------------
 * Values
 * ------------------------------------------------------------------------ */

/* The kind of a value. funcref, externref, v128 and the GC reference
 * types have no kind here (see the conventions above). */
typedef uint8_t kiln_valkind_t;
#define KILN_I32 ((kiln_valkind_t)0)
#define KILN_I64 ((kiln_valkind_t)1)
#define KILN_F32 ((kiln_valkind_t)2)
#define KILN_F64 ((kiln_valkind_t)3)

/* A Wasm value: `kind` says which member of `of` holds it (only that one is
 * read). Floats keep their bits, NaN payloads included. */
typedef struct kiln_val {
  kiln_valkind_t kind;
  union {
    int32_t i32;
    int64_t i64;
    float f32;
    double f64;
  } of;
} kiln_val_t;

/* ------------------------------------------------------------------------
 * Stores
 * ------------------------------------------------------------------------ */

/* A store: instances, memories and host functions of one tenant, with a
 * user data pointer. Not thread-safe: one thread at a time. */
typedef struct kiln_store kiln_store_t;

/* Called with the store's data when the store is deleted. */
typedef void (*kiln_finalizer_t)(void *data);

/* A new, empty store of `engine`, into *out, holding the user `data`
 * (any pointer, NULL included; the library never reads it). `finalizer`,
 * if not NULL, is called with `data` once, by kiln_store_delete, after
 * everything in the store is freed. */
kiln_error_t *kiln_store_new(const kiln_engine_t *engine, void *data, kiln_finalizer_t finalizer,
                             kiln_store_t **out);

/* The store's user data, as given to kiln_store_new; NULL for a NULL store. */
void *kiln_store_data(const kiln_store_t *store);

/* Limits what the store may allocate (Wasmtime's wasmtime_store_limiter):
 * `memory_size` bytes per linear memory, `table_elements` elements per
 * table, and at most `instances`, `tables` and `memories` of each in the
 * store. A negative value keeps the default (no size limit; 10,000 of each
 * kind). A memory or table whose initial size is over the limit makes
 * instantiation fail; `memory.grow` or `table.grow` past it returns -1 to
 * the guest, which goes on. Replaces any earlier limits. */
kiln_error_t *kiln_store_limiter(kiln_store_t *store, int64_t memory_size, int64_t table_elements,
                                 int64_t instances, int64_t tables, int64_t memories);

/* Gives the store `fuel` units, replacing what it had. Code compiled with
 * `kilnc --fuel` consumes one unit per operator (Wasmtime's cost model) and
 * traps with KILN_TRAP_CODE_OUT_OF_FUEL once it has none; a store starts
 * with none. An error if the store holds an instance compiled without
 * --fuel; once set, instantiating such code fails. */
kiln_error_t *kiln_store_set_fuel(kiln_store_t *store, uint64_t fuel);

/* The fuel left, into *fuel. An error if an instance of the store is not
 * metered (compiled without --fuel). */
kiln_error_t *kiln_store_get_fuel(const kiln_store_t *store, uint64_t *fuel);

/* Sets the epoch deadline `ticks` ticks of kiln_engine_increment_epoch past
 * the engine's current epoch: once reached, code compiled with `kilnc
 * --epoch-interruption` traps with KILN_TRAP_CODE_INTERRUPT. No deadline
 * is set until this is called. An error if the store holds an instance
 * compiled without epoch checks; once set, instantiating such code fails. */
kiln_error_t *kiln_store_set_epoch_deadline(kiln_store_t *store, uint64_t ticks);

/* Decides, instead of a trap, what happens when the store's epoch deadline
 * is reached. Called with `env` and the store's user data: returning NULL
 * after setting *continue_ticks lets the code go on, with the deadline that
 * many ticks past the engine's current epoch (0: at the next check, which
 * calls the callback again); returning an error (kiln_error_new) ends the
 * Wasm call with it, as a host callback's error. The callback cannot reach
 * the store. A NULL `callback` restores the trap (KILN_TRAP_CODE_INTERRUPT);
 * `env` and `env_finalizer` are then ignored.
 * `env_finalizer`, if not NULL, is called with `env` when the callback is
 * replaced or the store deleted (not when this fails: `env` then stays the
 * caller's). */
typedef kiln_error_t *(*kiln_epoch_deadline_callback_t)(void *env, void *data, uint64_t *continue_ticks);
kiln_error_t *kiln_store_epoch_deadline_callback(kiln_store_t *store, kiln_epoch_deadline_callback_t callback,
                                                 void *env, kiln_finalizer_t env_finalizer);

/* Sets how many bytes of native stack Wasm may use below the outermost
 * call into it (default 1 MiB); running out traps with
 * KILN_TRAP_CODE_STACK_OVERFLOW and the host goes on. */
kiln_error_t *kiln_store_set_max_wasm_stack(kiln_store_t *store, size_t bytes);

/* Frees the store and everything in it (its instances, memories, host
 * function contexts, WASI state), then calls its finalizer with its data.
 * Handles of the store (kiln_instance_t, kiln_func_t) must still be
 * deleted. NULL does nothing; so does a store that is running Wasm (a host
 * callback deleting its own store): it is left as it is. */
void kiln_store_delete(kiln_store_t *store);

/* ------------------------------------------------------------------------
 * WASI (wasi_snapshot_preview1)
 * ------------------------------------------------------------------------ */

/* What a WASI program sees: arguments, environment, standard streams and
 * preopened directories. */
typedef struct kiln_wasi_config kiln_wasi_config_t;

/* An empty WASI configuration: no arguments, no environment, standard
 * streams closed, no directories. Never NULL; freed with
 * kiln_wasi_config_delete, or handed to kiln_store_set_wasi. */
kiln_wasi_config_t *kiln_wasi_config_new(void);

/* Appends the argument `arg` (copied); the first is the program's name. */
kiln_error_t *kiln_wasi_config_arg(kiln_wasi_config_t *config, const char *arg);

/* Adds `key=value` (both copied) to the environment; a `key` containing
 * '=' is an error. */
kiln_error_t *kiln_wasi_config_env(kiln_wasi_config_t *config, const char *key, const char *value);

/* Shares this process's stdin, stdout and stderr with the program as its
 * descriptors 0, 1 and 2. */
kiln_error_t *kiln_wasi_config_inherit_stdio(kiln_wasi_config_t *config);

/* Lets the program reach the host directory `host_path`, and only what lies
 * beneath it, under the name `guest_path`. Opened now: a missing directory
 * is an error. Directories on kernel filesystems (procfs, sysfs, ...) and
 * the host's root are refused by kiln_store_set_wasi. Preopens become
 * descriptors 3, 4, ... in the order given. */
kiln_error_t *kiln_wasi_config_preopen_dir(kiln_wasi_config_t *config, const char *host_path,
                                           const char *guest_path);

/* Frees a configuration not handed to kiln_store_set_wasi. NULL does
 * nothing. */
void kiln_wasi_config_delete(kiln_wasi_config_t *config);

/* Makes `config` the WASI state of `store`, which the WASI functions of
 * kiln_linker_define_wasi use for instances of this store. Takes `config`
 * over in every case, even when it fails (it must not be used or deleted
 * afterwards); fails if a preopened directory is refused. A store without
 * WASI state gives WASI programs an empty one. */
kiln_error_t *kiln_store_set_wasi(kiln_store_t *store, kiln_wasi_config_t *config);

/* ------------------------------------------------------------------------
 * Linkers and host functions
 * ------------------------------------------------------------------------ */

/* An instance of a module in a store (a handle: the store owns it). */
typedef struct kiln_instance kiln_instance_t;

/* An exported function of an instance (a handle: the store owns it). */
typedef struct kiln_func kiln_func_t;

/* Named definitions that satisfy a module's imports; belongs to no store. */
typedef struct kiln_linker kiln_linker_t;

/* What a host function sees of the call: the store's data and the calling
 * instance's exports. Valid only during the callback it is passed to. */
typedef struct kiln_caller kiln_caller_t;

/* A host function. `env` is the pointer given to kiln_linker_define_func;
 * `args` holds `nargs` values of the declared parameter kinds; `results`
 * has room for `nresults` values, pre-set to zeros of the declared result
 * kinds, which the callback overwrites (a result of another kind is an
 * error of the call). Returning NULL succeeds; returning an error (made by
 * kiln_error_new, or one an API function gave, a trap of
 * kiln_caller_memory_read say) hands it to the library and ends the Wasm
 * call with it: that error is what kiln_func_call returns. The callback
 * runs on whichever thread runs the store, and, since a linker serves any
 * number of stores, possibly on several threads at once: `env` must allow
 * that. */
typedef kiln_error_t *(*kiln_func_callback_t)(void *env, kiln_caller_t *caller, const kiln_val_t *args,
                                              size_t nargs, kiln_val_t *results, size_t nresults);

/* A new, empty linker for modules and stores of `engine`, into *out. */
kiln_error_t *kiln_linker_new(const kiln_engine_t *engine, kiln_linker_t **out);

/* Defines `module`.`name` as the host function `callback` of type
 * (params[0..nparams]) -> (results[0..nresults]). `env` is passed to every
 * call; `env_finalizer`, if not NULL, is called with it once the linker and
 * every store instantiated with this function are deleted. A name defined
 * twice, or a kind that is not one of KILN_I32..KILN_F64, is an error (and
 * the finalizer is then not called: `env` stays the caller's). `params`
 * (`results`) may be NULL when `nparams` (`nresults`) is 0. */
kiln_error_t *kiln_linker_define_func(kiln_linker_t *linker, const char *module, const char *name,
                                      const kiln_valkind_t *params, size_t nparams,
                                      const kiln_valkind_t *results, size_t nresults,
                                      kiln_func_callback_t callback, void *env, kiln_finalizer_t env_finalizer);

/* Defines the functions of `wasi_snapshot_preview1`, working on the WASI
 * state of the store that instantiates (kiln_store_set_wasi). */
kiln_error_t *kiln_linker_define_wasi(kiln_linker_t *linker);

/* Resolves `module`'s imports with the linker's definitions and
 * instantiates it in `store`, into *out (running its start function). An
 * import that is not defined is an error naming it ("unknown import:
 * `env`.`f` is not defined"), one of another type too; a trap of the start
 * function or a refused limit fails the instantiation. */
kiln_error_t *kiln_linker_instantiate(const kiln_linker_t *linker, kiln_store_t *store,
                                      const kiln_module_t *module, kiln_instance_t **out);

/* Frees the linker; host functions already instantiated stay in their
 * stores. NULL does nothing. */
void kiln_linker_delete(kiln_linker_t *linker);

/* The store's user data (as kiln_store_data) during a host call. NULL for a
 * NULL caller. */
void *kiln_caller_data(const kiln_caller_t *caller);

/* The size in bytes, into *size, of the memory that the calling instance
 * exports as `memory_name` (WASI programs and most toolchains export
 * "memory"). An error if there is no such memory. */
kiln_error_t *kiln_caller_memory_size(const kiln_caller_t *caller, const char *memory_name, uint64_t *size);

/* Copies `len` bytes at `offset` of the calling instance's exported memory
 * `memory_name` into `buf`. Out of bounds is a trap error
 * (KILN_TRAP_CODE_MEMORY_OUT_OF_BOUNDS) and copies nothing. */
kiln_error_t *kiln_caller_memory_read(const kiln_caller_t *caller, const char *memory_name, uint64_t offset,
                                      void *buf, size_t len);

/* Copies `len` bytes from `buf` to `offset` of the calling instance's
 * exported memory `memory_name`. Out of bounds is a trap error and writes
 * nothing. */
kiln_error_t *kiln_caller_memory_write(kiln_caller_t *caller, const char *memory_name, uint64_t offset,
                                       const void *buf, size_t len);

/* The function that the calling instance exports as `name`, into *out: a
 * handle of the caller's store, freed with kiln_func_delete, usable with
 * kiln_caller_func_call now and with kiln_func_call once the store's call
 * has returned. An error if there is no such function. */
kiln_error_t *kiln_caller_get_func(const kiln_caller_t *caller, const char *name, kiln_func_t **out);

/* Calls `func` (of the caller's store) from inside a host callback, as
 * kiln_func_call does from outside: the same checks, the same errors. Its
 * trap or error is returned to the callback, which may pass it on (return
 * it) to end the outer call with it too. */
kiln_error_t *kiln_caller_func_call(kiln_caller_t *caller, const kiln_func_t *func, const kiln_val_t *args,
                                    size_t nargs, kiln_val_t *results, size_t nresults);

/* ------------------------------------------------------------------------
 * Instances and functions
 * ------------------------------------------------------------------------ */

/* The function that `instance` exports as `name`, into *out. An error if
 * there is none, or if the instance belongs to another store. */
kiln_error_t *kiln_instance_get_func(const kiln_store_t *store, const kiln_instance_t *instance,
                                     const char *name, kiln_func_t **out);

/* The size in bytes, into *size, of the memory `instance` exports as
 * `memory_name`. */
kiln_error_t *kiln_instance_memory_size(const kiln_store_t *store, const kiln_instance_t *instance,
                                        const char *memory_name, uint64_t *size);

/* Copies `len` bytes at `offset` of the memory `instance` exports as
 * `memory_name` into `buf`; out of bounds is a trap error. */
kiln_error_t *kiln_instance_memory_read(const kiln_store_t *store, const kiln_instance_t *instance,
                                        const char *memory_name, uint64_t offset, void *buf, size_t len);

/* Copies `len` bytes from `buf` to `offset` of the memory `instance`
 * exports as `memory_name`; out of bounds is a trap error. */
kiln_error_t *kiln_instance_memory_write(kiln_store_t *store, const kiln_instance_t *instance,
                                         const char *memory_name, uint64_t offset, const void *buf,
                                         size_t len);

/* Frees the handle (not the instance, which lives as long as its store).
 * NULL does nothing. */
void kiln_instance_delete(kiln_instance_t *instance);

/* Calls `func` of `store` with `nargs` arguments and room for `nresults`
 * results, which are written only on success. A wrong number of arguments
 * or results, an argument of the wrong kind, or a function with a type
 * this API cannot express is an error before anything runs. A trap is an
 * error with its code (kiln_error_trap_code); a WASI exit is an error with
 * its status (kiln_error_exit_status); an error a host callback returned
 * is the error. `args` (`results`) may be NULL when `nargs` (`nresults`)
 * is 0. */
kiln_error_t *kiln_func_call(kiln_store_t *store, const kiln_func_t *func, const kiln_val_t *args,
                             size_t nargs, kiln_val_t *results, size_t nresults);

/* Frees the handle (not the function). NULL does nothing. */
void kiln_func_delete(kiln_func_t *func);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* KILN_H */
