/* Runtime: platforms and devices, device choice, context/queue, program build with the
 * persistent binary cache, kernel launch and profiling. */
#include "runtime/runtime.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CT_CACHE_KEY_VERSION "ctkey2"

/* ---- devices ----------------------------------------------------------- */

const char *ct_device_type_str(cl_device_type t) {
    if (t & CL_DEVICE_TYPE_GPU) return "GPU";
    if (t & CL_DEVICE_TYPE_CPU) return "CPU";
    if (t & CL_DEVICE_TYPE_ACCELERATOR) return "ACCELERATOR";
    return "OTHER";
}

static void dev_str(cl_device_id d, cl_device_info what, char *out, size_t n) {
    out[0] = 0;
    if (clGetDeviceInfo(d, what, n, out, NULL) != CL_SUCCESS) snprintf(out, n, "?");
    out[n - 1] = 0;
    /* Trim trailing blanks some drivers pad names with. */
    size_t l = strlen(out);
    while (l && (out[l - 1] == ' ' || out[l - 1] == '\n')) out[--l] = 0;
}

static void fill_info(ct_device_info *di) {
    cl_device_id d = di->did;
    dev_str(d, CL_DEVICE_NAME, di->name, sizeof di->name);
    dev_str(d, CL_DEVICE_VENDOR, di->vendor, sizeof di->vendor);
    dev_str(d, CL_DRIVER_VERSION, di->driver, sizeof di->driver);
    dev_str(d, CL_DEVICE_VERSION, di->version, sizeof di->version);
    dev_str(d, CL_DEVICE_OPENCL_C_VERSION, di->c_version, sizeof di->c_version);
    clGetPlatformInfo(di->pid, CL_PLATFORM_NAME, sizeof di->platform_name, di->platform_name, NULL);
    clGetPlatformInfo(di->pid, CL_PLATFORM_VERSION, sizeof di->platform_version,
                      di->platform_version, NULL);
    clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof di->type, &di->type, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof di->compute_units, &di->compute_units, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_CLOCK_FREQUENCY, sizeof di->clock_mhz, &di->clock_mhz, NULL);
    clGetDeviceInfo(d, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof di->global_mem, &di->global_mem, NULL);
    clGetDeviceInfo(d, CL_DEVICE_LOCAL_MEM_SIZE, sizeof di->local_mem, &di->local_mem, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof di->max_alloc, &di->max_alloc, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof di->max_wg, &di->max_wg, NULL);
    cl_uint bits = 0;
    clGetDeviceInfo(d, CL_DEVICE_MEM_BASE_ADDR_ALIGN, sizeof bits, &bits, NULL);
    di->base_align_bytes = bits ? bits / 8 : 128;
    char ext[8192] = {0};
    clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, sizeof ext - 1, ext, NULL);
    di->fp16 = strstr(ext, "cl_khr_fp16") != NULL;
    di->fp64 = strstr(ext, "cl_khr_fp64") != NULL;
    di->c_major = 1;
    di->c_minor = 2;
    /* "OpenCL C 1.2 pocl" / "OpenCL C 3.0 ..." */
    if (sscanf(di->c_version, "OpenCL C %d.%d", &di->c_major, &di->c_minor) != 2) {
        di->c_major = 1;
        di->c_minor = 2;
    }
}

ct_status ct_devices_enumerate(ct_device_info **out, int *n) {
    *out = NULL;
    *n = 0;
    cl_uint np = 0;
    cl_int e = clGetPlatformIDs(0, NULL, &np);
    if (e == -1001 /* CL_PLATFORM_NOT_FOUND_KHR */ || np == 0) return CT_OK;
    CL_CHECK(e);
    cl_platform_id *plats = calloc(np, sizeof *plats);
    if (!plats) return ct_set_error(CT_ERR_MEMORY, "out of host memory listing platforms");
    e = clGetPlatformIDs(np, plats, NULL);
    if (e != CL_SUCCESS) {
        free(plats);
        CL_CHECK(e);
    }
    ct_device_info *list = NULL;
    int cnt = 0;
    for (cl_uint p = 0; p < np; p++) {
        cl_uint nd = 0;
        if (clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, 0, NULL, &nd) != CL_SUCCESS || nd == 0)
            continue;
        cl_device_id *ids = calloc(nd, sizeof *ids);
        ct_device_info *grown = realloc(list, (cnt + nd) * sizeof *list);
        if (!ids || !grown) {
            free(ids);
            free(grown ? grown : list);
            free(plats);
            return ct_set_error(CT_ERR_MEMORY, "out of host memory listing devices");
        }
        list = grown;
        clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, nd, ids, NULL);
        for (cl_uint d = 0; d < nd; d++) {
            ct_device_info *di = &list[cnt++];
            memset(di, 0, sizeof *di);
            di->platform = (int)p;
            di->device = (int)d;
            di->pid = plats[p];
            di->did = ids[d];
            fill_info(di);
        }
        free(ids);
    }
    free(plats);
    int def = ct_devices_default(list, cnt);
    if (def >= 0) list[def].is_default = 1;
    *out = list;
    *n = cnt;
    return CT_OK;
}

int ct_devices_default(const ct_device_info *list, int n) {
    for (int i = 0; i < n; i++)
        if (list[i].type & CL_DEVICE_TYPE_GPU) return i;
    for (int i = 0; i < n; i++)
        if (list[i].type & CL_DEVICE_TYPE_CPU) return i;
    return n > 0 ? 0 : -1;
}

static const char *no_platform_msg =
    "no OpenCL platform found. Install a vendor driver, or for the CPU: "
    "sudo apt-get install ocl-icd-libopencl1 pocl-opencl-icd (the ICD loader and PoCL)";

ct_status ct_devices_print(FILE *f, int json) {
    ct_device_info *list;
    int n;
    CT_TRY(ct_devices_enumerate(&list, &n));
    if (json) {
        cJSON *root = cJSON_CreateObject();
        cJSON *arr = cJSON_AddArrayToObject(root, "devices");
        for (int i = 0; i < n; i++) {
            const ct_device_info *d = &list[i];
            cJSON *o = cJSON_CreateObject();
            char id[32];
            snprintf(id, sizeof id, "%d:%d", d->platform, d->device);
            cJSON_AddStringToObject(o, "id", id);
            cJSON_AddNumberToObject(o, "platform_index", d->platform);
            cJSON_AddNumberToObject(o, "device_index", d->device);
            cJSON_AddStringToObject(o, "platform", d->platform_name);
            cJSON_AddStringToObject(o, "platform_version", d->platform_version);
            cJSON_AddStringToObject(o, "type", ct_device_type_str(d->type));
            cJSON_AddStringToObject(o, "vendor", d->vendor);
            cJSON_AddStringToObject(o, "name", d->name);
            cJSON_AddStringToObject(o, "driver_version", d->driver);
            cJSON_AddStringToObject(o, "device_version", d->version);
            cJSON_AddStringToObject(o, "opencl_c_version", d->c_version);
            cJSON_AddNumberToObject(o, "compute_units", d->compute_units);
            cJSON_AddNumberToObject(o, "clock_mhz", d->clock_mhz);
            cJSON_AddNumberToObject(o, "global_mem_bytes", (double)d->global_mem);
            cJSON_AddNumberToObject(o, "local_mem_bytes", (double)d->local_mem);
            cJSON_AddNumberToObject(o, "max_alloc_bytes", (double)d->max_alloc);
            cJSON_AddNumberToObject(o, "max_work_group_size", (double)d->max_wg);
            cJSON_AddBoolToObject(o, "fp16", d->fp16);
            cJSON_AddBoolToObject(o, "fp64", d->fp64);
            cJSON_AddBoolToObject(o, "default", d->is_default);
            cJSON_AddItemToArray(arr, o);
        }
        if (n == 0) cJSON_AddStringToObject(root, "message", no_platform_msg);
        char *s = cJSON_Print(root);
        fprintf(f, "%s\n", s ? s : "{}");
        free(s);
        cJSON_Delete(root);
    } else if (n == 0) {
        fprintf(f, "%s\n", no_platform_msg);
    } else {
        for (int i = 0; i < n; i++) {
            const ct_device_info *d = &list[i];
            if (i == 0 || list[i - 1].platform != d->platform)
                fprintf(f, "Platform %d: %s (%s)\n", d->platform, d->platform_name, d->platform_version);
            fprintf(f, "  %d:%d  %-4s %s%s\n", d->platform, d->device, ct_device_type_str(d->type),
                    d->name, d->is_default ? "   [default]" : "");
            fprintf(f, "        vendor %s, driver %s, %s\n", d->vendor, d->driver, d->c_version);
            fprintf(f, "        %u compute units @ %u MHz, max work-group %zu\n", d->compute_units,
                    d->clock_mhz, d->max_wg);
            fprintf(f, "        global %.1f MiB, local %.1f KiB, max alloc %.1f MiB\n",
                    d->global_mem / 1048576.0, d->local_mem / 1024.0, d->max_alloc / 1048576.0);
            fprintf(f, "        fp16 %s, fp64 %s\n", d->fp16 ? "yes" : "no", d->fp64 ? "yes" : "no");
        }
        fprintf(f, "Choose one with --device P:D or CLTRAIN_DEVICE=P:D.\n");
    }
    free(list);
    return CT_OK;
}

/* ---- runtime ----------------------------------------------------------- */

static ct_status pick_device(const char *spec, ct_device_info *out) {
    ct_device_info *list;
    int n;
    CT_TRY(ct_devices_enumerate(&list, &n));
    if (n == 0) {
        free(list);
        return ct_set_error(CT_ERR_NO_DEVICE, "%s", no_platform_msg);
    }
    const char *src = "--device";
    if (!spec || !*spec) {
        spec = getenv("CLTRAIN_DEVICE");
        src = "CLTRAIN_DEVICE";
    }
    int idx = -1;
    if (spec && *spec) {
        int p, d;
        char extra;
        if (sscanf(spec, "%d:%d%c", &p, &d, &extra) == 2) {
            for (int i = 0; i < n; i++)
                if (list[i].platform == p && list[i].device == d) idx = i;
        }
        if (idx < 0) {
            char avail[4096] = "";
            size_t off = 0;
            for (int i = 0; i < n && off < sizeof avail - 300; i++)
                off += (size_t)snprintf(avail + off, sizeof avail - off, "\n  %d:%d  %s %s (%s)",
                                        list[i].platform, list[i].device,
                                        ct_device_type_str(list[i].type), list[i].name,
                                        list[i].platform_name);
            ct_status s = ct_set_error(CT_ERR_NO_DEVICE,
                                       "%s=%s: no such device (expected P:D as cldevices numbers "
                                       "them). Devices that exist:%s",
                                       src, spec, avail);
            free(list);
            return s;
        }
    } else {
        idx = ct_devices_default(list, n);
    }
    *out = list[idx];
    free(list);
    return CT_OK;
}

static size_t env_size(const char *name, size_t dflt) {
    const char *v = getenv(name);
    if (!v || !*v) return dflt;
    char *end;
    unsigned long long x = strtoull(v, &end, 10);
    if (end == v || x == 0) return dflt;
    return x < dflt ? (size_t)x : dflt;
}

ct_status ct_runtime_create(const char *devspec, unsigned flags, ct_runtime **out) {
    *out = NULL;
    ct_runtime *rt = calloc(1, sizeof *rt);
    if (!rt) return ct_set_error(CT_ERR_MEMORY, "out of host memory");
    ct_status s = pick_device(devspec, &rt->dev);
    if (s != CT_OK) {
        free(rt);
        return s;
    }
    rt->flags = flags;
    const char *det = getenv("CLTRAIN_DETERMINISTIC"); /* as --deterministic */
    if (det && !strcmp(det, "1")) rt->flags |= CT_RT_DETERMINISTIC;
    rt->local_mem = env_size("CLTRAIN_LOCAL_MEM", (size_t)rt->dev.local_mem);
    rt->max_wg = env_size("CLTRAIN_MAX_WG", rt->dev.max_wg);
    cl_int e;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)rt->dev.pid, 0};
    rt->ctx = clCreateContext(props, 1, &rt->dev.did, NULL, NULL, &e);
    if (e != CL_SUCCESS) {
        s = ct_set_error(CT_ERR_CL, "clCreateContext on %d:%d (%s) failed: %s", rt->dev.platform,
                         rt->dev.device, rt->dev.name, ct_cl_error_name(e));
        free(rt);
        return s;
    }
    cl_command_queue_properties qp = (flags & CT_RT_PROFILE) ? CL_QUEUE_PROFILING_ENABLE : 0;
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#endif
    rt->q = clCreateCommandQueue(rt->ctx, rt->dev.did, qp, &e);
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
    if (e != CL_SUCCESS) {
        clReleaseContext(rt->ctx);
        free(rt);
        return ct_set_error(CT_ERR_CL, "clCreateCommandQueue failed: %s", ct_cl_error_name(e));
    }
    *out = rt;
    return CT_OK;
}

void ct_runtime_free(ct_runtime *rt) {
    if (!rt) return;
    if (rt->q) clFinish(rt->q);
    if (rt->ops && rt->ops_free) rt->ops_free(rt->ops);
    for (int i = 0; i < rt->n_progs; i++) {
        clReleaseProgram(rt->progs[i].prog);
        free(rt->progs[i].name);
        free(rt->progs[i].options);
    }
    free(rt->progs);
    free(rt->prof);
    if (rt->q) clReleaseCommandQueue(rt->q);
    if (rt->ctx) clReleaseContext(rt->ctx);
    free(rt);
}

void ct_runtime_print_device(const ct_runtime *rt, FILE *f) {
    const ct_device_info *d = &rt->dev;
    fprintf(f, "device %d:%d: %s %s (%s, driver %s)\n", d->platform, d->device,
            ct_device_type_str(d->type), d->name, d->platform_name, d->driver);
}

/* ---- programs ---------------------------------------------------------- */

void ct_build_options(const ct_runtime *rt, const char *extra, char *out, size_t outlen) {
    const ct_device_info *d = &rt->dev;
    /* -cl-std follows the device's OpenCL C version; kernels are 1.2 core. Devices with
     * OpenCL C 3.0 accept CL3.0, which still compiles 1.2 code. */
    const char *std = (d->c_major >= 3) ? "CL3.0" : (d->c_major == 2) ? "CL2.0" : "CL1.2";
    snprintf(out, outlen,
             "-cl-std=%s -DCT_DEVICE_%s=1 -DCT_LOCAL_MEM=%zu -DCT_MAX_WG=%zu%s%s%s", std,
             (d->type & CL_DEVICE_TYPE_GPU) ? "GPU" : "CPU", rt->local_mem, rt->max_wg,
             d->fp16 ? " -DCT_HAS_FP16=1" : "", extra && *extra ? " " : "", extra ? extra : "");
}

ct_status ct_kernel_source_get(const char *name, const char **text, char **owned) {
    *owned = NULL;
    const char *dir = getenv("CLTRAIN_KERNEL_DIR");
    if (dir && *dir) {
        /* Inline local includes the same way the embedder does (one level of "x.h"). */
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.cl", dir, name);
        FILE *f = fopen(path, "rb");
        if (!f)
            return ct_set_error(CT_ERR_IO, "CLTRAIN_KERNEL_DIR: cannot open %s (unset "
                                "CLTRAIN_KERNEL_DIR to use the built-in kernels)", path);
        size_t cap = 1 << 16, len = 0;
        char *buf = malloc(cap);
        char line[4096];
        while (buf && fgets(line, sizeof line, f)) {
            char inc[512];
            const char *add = line;
            char *inc_text = NULL;
            if (sscanf(line, " #include \"%511[^\"]\"", inc) == 1) {
                char ip[4700];
                snprintf(ip, sizeof ip, "%s/%s", dir, inc);
                FILE *g = fopen(ip, "rb");
                if (g) {
                    fseek(g, 0, SEEK_END);
                    long gl = ftell(g);
                    fseek(g, 0, SEEK_SET);
                    inc_text = calloc((size_t)(gl > 0 ? gl : 0) + 1, 1);
                    if (inc_text && gl > 0 && fread(inc_text, 1, (size_t)gl, g) != (size_t)gl)
                        inc_text[0] = 0;
                    fclose(g);
                    add = inc_text ? inc_text : "";
                }
            }
            size_t al = strlen(add);
            if (len + al + 1 > cap) {
                while (len + al + 1 > cap) cap *= 2;
                char *nb = realloc(buf, cap);
                if (!nb) {
                    free(buf);
                    buf = NULL;
                }
                else buf = nb;
            }
            if (buf) {
                memcpy(buf + len, add, al);
                len += al;
            }
            free(inc_text);
        }
        fclose(f);
        if (!buf) return ct_set_error(CT_ERR_MEMORY, "out of host memory reading %s", path);
        buf[len] = 0;
        *text = buf;
        *owned = buf;
        return CT_OK;
    }
    for (int i = 0; i < ct_kernel_sources_count; i++)
        if (!strcmp(ct_kernel_sources[i].name, name)) {
            *text = ct_kernel_sources[i].text;
            return CT_OK;
        }
    return ct_set_error(CT_ERR_INTERNAL, "no kernel program named '%s' is built in", name);
}

static ct_status build_log_error(ct_runtime *rt, cl_program p, const char *name, const char *opts,
                                 cl_int e) {
    size_t n = 0;
    clGetProgramBuildInfo(p, rt->dev.did, CL_PROGRAM_BUILD_LOG, 0, NULL, &n);
    char *log = malloc(n + 1);
    if (log) {
        log[0] = 0;
        clGetProgramBuildInfo(p, rt->dev.did, CL_PROGRAM_BUILD_LOG, n, log, NULL);
        log[n] = 0;
    }
    /* a log the driver could not give, or an empty one (not a compile error): say so */
    const char *lg = log && log[strspn(log, " \t\r\n")] ? log : "(empty)";
    ct_status s = ct_set_error(CT_ERR_BUILD,
                               "building OpenCL program '%s' failed (clBuildProgram: %s)\n  "
                               "options: %s\n  build log:\n%s",
                               name, ct_cl_error_name(e), opts, lg);
    free(log);
    return s;
}

ct_status ct_program_get(ct_runtime *rt, const char *name, const char *extra, cl_program *out) {
    char opts[2048];
    ct_build_options(rt, extra, opts, sizeof opts);
    for (int i = 0; i < rt->n_progs; i++)
        if (!strcmp(rt->progs[i].name, name) && !strcmp(rt->progs[i].options, opts)) {
            *out = rt->progs[i].prog;
            return CT_OK;
        }
    double t0 = ct_now();
    const char *src;
    char *owned;
    CT_TRY(ct_kernel_source_get(name, &src, &owned));
    const ct_device_info *d = &rt->dev;
    size_t keylen = strlen(opts) + 2048;
    char *key = malloc(keylen);
    if (!key) {
        free(owned);
        return ct_set_error(CT_ERR_MEMORY, "out of host memory");
    }
    snprintf(key, keylen, "%s|src=%016llx:%zu|opts=%s|dev=%s|devver=%s|drv=%s|plat=%s %s",
             CT_CACHE_KEY_VERSION, (unsigned long long)ct_hash64(src, strlen(src), 7), strlen(src),
             opts, d->name, d->version, d->driver, d->platform_name, d->platform_version);
    cl_program p = NULL;
    cl_int e;
    int from_cache = 0;
    unsigned char *bin = NULL;
    size_t blen = 0;
    if (ct_cache_load(key, &bin, &blen)) {
        const unsigned char *bp = bin;
        cl_int bstatus;
        p = clCreateProgramWithBinary(rt->ctx, 1, &d->did, &blen, &bp, &bstatus, &e);
        if (e == CL_SUCCESS && bstatus == CL_SUCCESS &&
            clBuildProgram(p, 1, &d->did, opts, NULL, NULL) == CL_SUCCESS) {
            from_cache = 1;
        } else if (p) {
            clReleaseProgram(p); /* a binary the driver refuses: rebuild from source */
            p = NULL;
        }
        free(bin);
    }
    if (!p) {
        p = clCreateProgramWithSource(rt->ctx, 1, &src, NULL, &e);
        if (e != CL_SUCCESS) {
            free(owned);
            free(key);
            return ct_set_error(CT_ERR_CL, "clCreateProgramWithSource('%s') failed: %s", name,
                                ct_cl_error_name(e));
        }
        e = clBuildProgram(p, 1, &d->did, opts, NULL, NULL);
        if (e != CL_SUCCESS) {
            ct_status s = build_log_error(rt, p, name, opts, e);
            clReleaseProgram(p);
            free(owned);
            free(key);
            return s;
        }
        size_t bsz = 0;
        if (clGetProgramInfo(p, CL_PROGRAM_BINARY_SIZES, sizeof bsz, &bsz, NULL) == CL_SUCCESS &&
            bsz > 0) {
            unsigned char *b = malloc(bsz);
            if (b && clGetProgramInfo(p, CL_PROGRAM_BINARIES, sizeof b, &b, NULL) == CL_SUCCESS)
                ct_cache_store(key, b, bsz);
            free(b);
        }
    }
    free(owned);
    free(key);
    if (rt->n_progs == rt->cap_progs) {
        int nc = rt->cap_progs ? rt->cap_progs * 2 : 16;
        ct_program_entry *np = realloc(rt->progs, (size_t)nc * sizeof *np);
        if (!np) {
            clReleaseProgram(p);
            return ct_set_error(CT_ERR_MEMORY, "out of host memory");
        }
        rt->progs = np;
        rt->cap_progs = nc;
    }
    ct_program_entry *pe = &rt->progs[rt->n_progs++];
    pe->name = strdup(name);
    pe->options = strdup(opts);
    pe->prog = p;
    pe->from_cache = from_cache;
    if (from_cache) rt->n_cached++;
    else rt->n_built++;
    rt->setup_seconds += ct_now() - t0;
    *out = p;
    return CT_OK;
}

ct_status ct_kernel_create(ct_runtime *rt, const char *program, const char *kernel,
                           const char *extra, cl_kernel *out) {
    cl_program p;
    CT_TRY(ct_program_get(rt, program, extra, &p));
    cl_int e;
    *out = clCreateKernel(p, kernel, &e);
    if (e != CL_SUCCESS)
        return ct_set_error(CT_ERR_CL, "clCreateKernel('%s' in program '%s') failed: %s", kernel,
                            program, ct_cl_error_name(e));
    return CT_OK;
}

ct_status ct_set_args(cl_kernel k, int n, ...) {
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        size_t sz = va_arg(ap, size_t);
        const void *ptr = va_arg(ap, const void *);
        cl_int e = clSetKernelArg(k, (cl_uint)i, sz, ptr);
        if (e != CL_SUCCESS) {
            va_end(ap);
            char kn[128] = "?";
            clGetKernelInfo(k, CL_KERNEL_FUNCTION_NAME, sizeof kn, kn, NULL);
            return ct_set_error(CT_ERR_CL, "clSetKernelArg(%s, arg %d) failed: %s", kn, i,
                                ct_cl_error_name(e));
        }
    }
    va_end(ap);
    return CT_OK;
}

static void prof_add(ct_runtime *rt, const char *name, double ms) {
    for (int i = 0; i < rt->n_prof; i++)
        if (!strcmp(rt->prof[i].name, name)) {
            rt->prof[i].ms += ms;
            rt->prof[i].count++;
            return;
        }
    if (rt->n_prof == rt->cap_prof) {
        int nc = rt->cap_prof ? rt->cap_prof * 2 : 32;
        ct_prof_entry *np = realloc(rt->prof, (size_t)nc * sizeof *np);
        if (!np) return;
        rt->prof = np;
        rt->cap_prof = nc;
    }
    ct_prof_entry *e = &rt->prof[rt->n_prof++];
    snprintf(e->name, sizeof e->name, "%s", name);
    e->ms = ms;
    e->count = 1;
}

ct_status ct_launch(ct_runtime *rt, cl_kernel k, cl_uint dims, const size_t *gws, const size_t *lws) {
    size_t g[3];
    for (cl_uint i = 0; i < dims; i++) {
        g[i] = gws[i];
        if (lws && lws[i]) g[i] = (g[i] + lws[i] - 1) / lws[i] * lws[i];
        if (g[i] == 0) return CT_OK; /* nothing to do */
    }
    int prof = (rt->flags & CT_RT_PROFILE) != 0;
    cl_event ev = NULL;
    cl_int e = clEnqueueNDRangeKernel(rt->q, k, dims, NULL, g, lws, 0, NULL, prof ? &ev : NULL);
    if (e != CL_SUCCESS) {
        char kn[128] = "?";
        clGetKernelInfo(k, CL_KERNEL_FUNCTION_NAME, sizeof kn, kn, NULL);
        return ct_set_error(CT_ERR_CL,
                            "clEnqueueNDRangeKernel(%s, global %zu x %zu x %zu, local %zu x %zu x "
                            "%zu) failed: %s",
                            kn, g[0], dims > 1 ? g[1] : 1, dims > 2 ? g[2] : 1,
                            lws ? lws[0] : 0, lws && dims > 1 ? lws[1] : 0,
                            lws && dims > 2 ? lws[2] : 0, ct_cl_error_name(e));
    }
    if (prof) {
        clWaitForEvents(1, &ev);
        cl_ulong t0 = 0, t1 = 0;
        clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_START, sizeof t0, &t0, NULL);
        clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_END, sizeof t1, &t1, NULL);
        char kn[64] = "?";
        clGetKernelInfo(k, CL_KERNEL_FUNCTION_NAME, sizeof kn, kn, NULL);
        prof_add(rt, kn, (double)(t1 - t0) * 1e-6);
        clReleaseEvent(ev);
    }
    return CT_OK;
}

static int prof_cmp(const void *a, const void *b) {
    double x = ((const ct_prof_entry *)a)->ms, y = ((const ct_prof_entry *)b)->ms;
    return (x < y) - (x > y);
}

void ct_profile_print(const ct_runtime *rt, FILE *f) {
    if (!rt->n_prof) {
        fprintf(f, "profile: no kernels recorded (profiling is on only with --profile)\n");
        return;
    }
    ct_prof_entry *s = malloc((size_t)rt->n_prof * sizeof *s);
    if (!s) return;
    memcpy(s, rt->prof, (size_t)rt->n_prof * sizeof *s);
    qsort(s, (size_t)rt->n_prof, sizeof *s, prof_cmp);
    double total = 0;
    for (int i = 0; i < rt->n_prof; i++) total += s[i].ms;
    fprintf(f, "%-36s %8s %12s %10s %7s\n", "kernel", "calls", "total ms", "ms/call", "share");
    for (int i = 0; i < rt->n_prof; i++)
        fprintf(f, "%-36s %8ld %12.2f %10.3f %6.1f%%\n", s[i].name, s[i].count, s[i].ms,
                s[i].ms / (double)s[i].count, total > 0 ? 100.0 * s[i].ms / total : 0.0);
    fprintf(f, "%-36s %8s %12.2f\n", "total", "", total);
    free(s);
}

void ct_profile_reset(ct_runtime *rt) { rt->n_prof = 0; }

const char *ct_cl_error_name(cl_int e) {
    switch (e) {
#define N(x) case x: return #x;
        N(CL_SUCCESS) N(CL_DEVICE_NOT_FOUND) N(CL_DEVICE_NOT_AVAILABLE) N(CL_COMPILER_NOT_AVAILABLE)
        N(CL_MEM_OBJECT_ALLOCATION_FAILURE) N(CL_OUT_OF_RESOURCES) N(CL_OUT_OF_HOST_MEMORY)
        N(CL_PROFILING_INFO_NOT_AVAILABLE) N(CL_MEM_COPY_OVERLAP) N(CL_IMAGE_FORMAT_MISMATCH)
        N(CL_IMAGE_FORMAT_NOT_SUPPORTED) N(CL_BUILD_PROGRAM_FAILURE) N(CL_MAP_FAILURE)
        N(CL_MISALIGNED_SUB_BUFFER_OFFSET) N(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST)
        N(CL_COMPILE_PROGRAM_FAILURE) N(CL_LINKER_NOT_AVAILABLE) N(CL_LINK_PROGRAM_FAILURE)
        N(CL_DEVICE_PARTITION_FAILED) N(CL_KERNEL_ARG_INFO_NOT_AVAILABLE) N(CL_INVALID_VALUE)
        N(CL_INVALID_DEVICE_TYPE) N(CL_INVALID_PLATFORM) N(CL_INVALID_DEVICE) N(CL_INVALID_CONTEXT)
        N(CL_INVALID_QUEUE_PROPERTIES) N(CL_INVALID_COMMAND_QUEUE) N(CL_INVALID_HOST_PTR)
        N(CL_INVALID_MEM_OBJECT) N(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR) N(CL_INVALID_IMAGE_SIZE)
        N(CL_INVALID_SAMPLER) N(CL_INVALID_BINARY) N(CL_INVALID_BUILD_OPTIONS) N(CL_INVALID_PROGRAM)
        N(CL_INVALID_PROGRAM_EXECUTABLE) N(CL_INVALID_KERNEL_NAME) N(CL_INVALID_KERNEL_DEFINITION)
        N(CL_INVALID_KERNEL) N(CL_INVALID_ARG_INDEX) N(CL_INVALID_ARG_VALUE) N(CL_INVALID_ARG_SIZE)
        N(CL_INVALID_KERNEL_ARGS) N(CL_INVALID_WORK_DIMENSION) N(CL_INVALID_WORK_GROUP_SIZE)
        N(CL_INVALID_WORK_ITEM_SIZE) N(CL_INVALID_GLOBAL_OFFSET) N(CL_INVALID_EVENT_WAIT_LIST)
        N(CL_INVALID_EVENT) N(CL_INVALID_OPERATION) N(CL_INVALID_GL_OBJECT) N(CL_INVALID_BUFFER_SIZE)
        N(CL_INVALID_MIP_LEVEL) N(CL_INVALID_GLOBAL_WORK_SIZE) N(CL_INVALID_PROPERTY)
        N(CL_INVALID_IMAGE_DESCRIPTOR) N(CL_INVALID_COMPILER_OPTIONS) N(CL_INVALID_LINKER_OPTIONS)
        N(CL_INVALID_DEVICE_PARTITION_COUNT)
#undef N
    case -1001: return "CL_PLATFORM_NOT_FOUND_KHR";
    default: return "CL_UNKNOWN_ERROR";
    }
}
