/* Data path tests: scan order and errors, decoding (PNG variants, JPEG incl. grey and CMYK),
 * Pillow-exact resize, the loader's determinism (augmentation: test_augment.c)
 * across worker counts and cache modes, bad-file skipping, and shutdown. No OpenCL. */
#include <errno.h>
#include <fcntl.h>
#include <png.h>
#include <stdint.h>
#include <sys/stat.h>
#include <turbojpeg.h>
#include <unistd.h>

#include "ctest.h"
#include "data/data.h"

static char tmpdir[512];
static const char *data_dir;

static void path_in(char *out, size_t n, const char *rel) { snprintf(out, n, "%s/%s", tmpdir, rel); }

static void mkdirs(const char *rel) {
    char p[1024];
    path_in(p, sizeof p, rel);
    for (char *s = p + strlen(tmpdir) + 1; *s; s++)
        if (*s == '/') {
            *s = 0;
            mkdir(p, 0755);
            *s = '/';
        }
    mkdir(p, 0755);
}

static uint32_t crc32_png(const uint8_t *b, size_t n) {
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= b[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
    }
    return c ^ 0xffffffffu;
}

static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

/* Signature, IHDR of a bw x bh grey PNG and the start of an IDAT: enough for a decoder's
 * size check (libpng's writer cannot be stopped after the first IDAT). */
static void write_png_header_only(const char *path, uint32_t bw, uint32_t bh) {
    uint8_t f[8 + 25 + 14] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    uint8_t *ih = f + 8;
    put_be32(ih, 13);
    memcpy(ih + 4, "IHDR", 4);
    put_be32(ih + 8, bw);
    put_be32(ih + 12, bh);
    ih[16] = 8; /* bit depth; colour type 0 (grey), compression, filter, interlace 0 */
    put_be32(ih + 21, crc32_png(ih + 4, 17));
    uint8_t *id = ih + 25;
    put_be32(id, 2);
    memcpy(id + 4, "IDAT", 4);
    id[8] = 0x78, id[9] = 0x01;
    put_be32(id + 10, crc32_png(id + 4, 6));
    FILE *o = fopen(path, "wb");
    if (o) {
        fwrite(f, 1, sizeof f, o);
        fclose(o);
    }
}

static void write_bytes(const char *rel, const void *buf, size_t n) {
    char p[1024];
    path_in(p, sizeof p, rel);
    FILE *f = fopen(p, "wb");
    if (!f) {
        fprintf(stderr, "cannot write %s\n", p);
        exit(1);
    }
    if (n) fwrite(buf, 1, n, f);
    fclose(f);
}

static unsigned char *read_all(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)len + 1);
    *n = fread(b, 1, (size_t)len, f);
    fclose(f);
    return b;
}

static void copy_file(const char *src, const char *rel) {
    size_t n;
    unsigned char *b = read_all(src, &n);
    if (!b) {
        fprintf(stderr, "cannot read %s\n", src);
        exit(1);
    }
    write_bytes(rel, b, n);
    free(b);
}

static void sample_jpg(char *out, size_t n, const char *name) {
    snprintf(out, n, "%s/catdog-mini/train/%s", data_dir, name);
}

/* ---- dataset --------------------------------------------------------------- */
static void test_scan(void) {
    char train[1024], val[1024];
    snprintf(train, sizeof train, "%s/catdog-mini/train", data_dir);
    snprintf(val, sizeof val, "%s/catdog-mini/validation", data_dir);
    const char *dirs[2] = {train, val};
    ct_dataset d;
    CHECK_OK(ct_dataset_scan(dirs, 1, &d));
    CHECK(d.n == 200 && d.n_classes == 2, "n=%d classes=%d", d.n, d.n_classes);
    CHECK(!strcmp(d.class_names[0], "cats") && !strcmp(d.class_names[1], "dogs"), "class names");
    CHECK(strstr(d.paths[0], "cats/cat.1.jpg") && strstr(d.paths[1], "cats/cat.10.jpg") &&
              strstr(d.paths[2], "cats/cat.100.jpg"),
          "strcmp order: %s %s %s", d.paths[0], d.paths[1], d.paths[2]);
    CHECK(d.labels[0] == 0 && d.labels[199] == 1, "labels");
    ct_dataset v, t;
    CHECK_OK(ct_dataset_split(&d, 0.2, 1, &v));
    CHECK_OK(ct_dataset_split(&d, 0.2, 0, &t));
    CHECK(v.n == 40 && t.n == 160, "split %d/%d", v.n, t.n);
    CHECK(!strcmp(v.paths[0], d.paths[0]) && !strcmp(v.paths[20], d.paths[100]) &&
              !strcmp(t.paths[0], d.paths[20]),
          "validation = first 20%% of each class");
    ct_dataset_clear(&v);
    ct_dataset_clear(&t);
    ct_dataset_clear(&d);
    CHECK_OK(ct_dataset_scan(dirs, 2, &d));
    CHECK(d.n == 250 && d.n_classes == 2, "joined n=%d", d.n);
    ct_dataset_clear(&d);

    /* recursive sorted walk, case-insensitive extensions, other files ignored */
    mkdirs("walk/b_cls/sub/deeper");
    mkdirs("walk/b_cls/sub-x");
    mkdirs("walk/a_cls");
    write_bytes("walk/a_cls/z.PNG", "x", 1);
    write_bytes("walk/a_cls/notes.txt", "x", 1);
    write_bytes("walk/b_cls/m.JpEg", "x", 1);
    write_bytes("walk/b_cls/sub/b.jpg", "x", 1);
    write_bytes("walk/b_cls/sub/deeper/a.jpg", "x", 1);
    write_bytes("walk/b_cls/sub-x/a.jpg", "x", 1);
    char walk[1024];
    path_in(walk, sizeof walk, "walk");
    const char *wd[1] = {walk};
    CHECK_OK(ct_dataset_scan(wd, 1, &d));
    CHECK(d.n == 5, "walk found %d", d.n);
    if (d.n == 5) {
        /* sorted(os.walk) order: dirs by full path: "sub" < "sub-x" < "sub/deeper" */
        const char *want[5] = {"a_cls/z.PNG", "b_cls/m.JpEg", "b_cls/sub/b.jpg", "b_cls/sub-x/a.jpg",
                               "b_cls/sub/deeper/a.jpg"};
        for (int i = 0; i < 5; i++)
            CHECK(strstr(d.paths[i], want[i]), "walk[%d] = %s, want %s", i, d.paths[i], want[i]);
    }
    ct_dataset_clear(&d);

    /* errors */
    const char *missing[1] = {"/nonexistent/cltrain-data"};
    CHECK(ct_dataset_scan(missing, 1, &d) == CT_ERR_IO, "missing folder");
    CHECK(strstr(ct_last_error(), "/nonexistent/cltrain-data"), "names folder: %s", ct_last_error());
    mkdirs("emptycls/a");
    mkdirs("emptycls/b");
    write_bytes("emptycls/a/x.jpg", "x", 1);
    char ec[1024];
    path_in(ec, sizeof ec, "emptycls");
    const char *e1[1] = {ec};
    CHECK(ct_dataset_scan(e1, 1, &d) == CT_ERR_ARG, "empty class");
    CHECK(strstr(ct_last_error(), "emptycls/b"), "names class: %s", ct_last_error());
    mkdirs("noclasses");
    path_in(ec, sizeof ec, "noclasses");
    CHECK(ct_dataset_scan(e1, 1, &d) == CT_ERR_ARG, "no classes: %s", ct_last_error());
}

/* ---- decoding -------------------------------------------------------------- */
static void write_png_raw(const char *path, int w, int h, int color_type, int depth, const uint8_t *rows_data,
                          int rowbytes, const png_color *pal, int npal, const uint8_t *trns, int ntrns) {
    FILE *f = fopen(path, "wb");
    png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop i = png_create_info_struct(p);
    if (setjmp(png_jmpbuf(p))) {
        fprintf(stderr, "png write failed\n");
        exit(1);
    }
    png_init_io(p, f);
    png_set_IHDR(p, i, w, h, depth, color_type, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (pal) png_set_PLTE(p, i, pal, npal);
    if (trns) png_set_tRNS(p, i, trns, ntrns, NULL);
    png_write_info(p, i);
    for (int y = 0; y < h; y++) png_write_row(p, rows_data + (size_t)y * rowbytes);
    png_write_end(p, NULL);
    png_destroy_write_struct(&p, &i);
    fclose(f);
}

static void test_png(void) {
    enum { H = 5, W = 7 };
    uint8_t rgb[H * W * 3], back[H * W * 3], g[H * W];
    for (int i = 0; i < H * W * 3; i++) rgb[i] = (uint8_t)(i * 37 + 11);
    char p[1024];
    path_in(p, sizeof p, "rgb.png");
    CHECK_OK(ct_png_write(p, rgb, H, W, 3));
    CHECK_OK(ct_image_load(p, H, W, 3, CT_RESIZE_NEAREST, back));
    CHECK(!memcmp(rgb, back, sizeof rgb), "RGB PNG round trip");
    CHECK_OK(ct_image_load(p, H, W, 1, CT_RESIZE_NEAREST, g));
    int okg = 1;
    for (int i = 0; i < H * W; i++) {
        const uint8_t *q = rgb + 3 * i;
        okg &= g[i] == (uint8_t)((q[0] * 19595 + q[1] * 38470 + q[2] * 7471 + 0x8000) >> 16);
    }
    CHECK(okg, "grayscale mode = Pillow's L conversion");

    /* 16-bit RGBA: alpha dropped, high byte kept */
    uint8_t r16[H * W * 8];
    for (int i = 0; i < H * W; i++)
        for (int k = 0; k < 4; k++) {
            r16[8 * i + 2 * k] = rgb[(3 * i + k % 3) % (H * W * 3)];
            r16[8 * i + 2 * k + 1] = 0x5a;
        }
    path_in(p, sizeof p, "rgba16.png");
    write_png_raw(p, W, H, PNG_COLOR_TYPE_RGB_ALPHA, 16, r16, W * 8, NULL, 0, NULL, 0);
    CHECK_OK(ct_image_load(p, H, W, 3, CT_RESIZE_NEAREST, back));
    int ok16 = 1;
    for (int i = 0; i < H * W; i++)
        for (int k = 0; k < 3; k++) ok16 &= back[3 * i + k] == r16[8 * i + 2 * k];
    CHECK(ok16, "16-bit RGBA PNG");

    /* a valid PNG over the size limits is called too large, not corrupt: IHDR + the first
     * IDAT of a 10000x10000 (over the pixel limit) and a 40000x8 (over the side limit) */
    for (int big = 0; big < 2; big++) {
        png_uint_32 bw = big ? 40000 : 10000, bh = big ? 8 : 10000;
        path_in(p, sizeof p, big ? "wide.png" : "huge.png");
        write_png_header_only(p, bw, bh);
        ct_status bs = ct_image_load(p, H, W, 3, CT_RESIZE_NEAREST, back);
        CHECK(bs == CT_ERR_FORMAT && strstr(ct_last_error(), "over the limit") &&
                  !strstr(ct_last_error(), "corrupt"),
              "big PNG %ux%u: %s", (unsigned)bw, (unsigned)bh, ct_last_error());
    }

    /* 8-bit grey -> rgb replicates; grey mode keeps it */
    uint8_t grey[H * W];
    for (int i = 0; i < H * W; i++) grey[i] = (uint8_t)(i * 7);
    path_in(p, sizeof p, "grey.png");
    write_png_raw(p, W, H, PNG_COLOR_TYPE_GRAY, 8, grey, W, NULL, 0, NULL, 0);
    CHECK_OK(ct_image_load(p, H, W, 3, CT_RESIZE_NEAREST, back));
    int okgr = 1;
    for (int i = 0; i < H * W; i++) okgr &= back[3 * i] == grey[i] && back[3 * i + 2] == grey[i];
    CHECK_OK(ct_image_load(p, H, W, 1, CT_RESIZE_NEAREST, g));
    CHECK(okgr && !memcmp(g, grey, sizeof g), "grey PNG");

    /* 4-bit palette with tRNS */
    png_color pal[3] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}};
    uint8_t trns[3] = {255, 128, 0};
    uint8_t pidx[H * 4];
    for (int y = 0; y < H; y++)
        for (int b = 0; b < 4; b++) {
            int a = (y * W + 2 * b) % 3, c2 = (y * W + 2 * b + 1) % 3;
            pidx[y * 4 + b] = (uint8_t)(a << 4 | c2);
        }
    path_in(p, sizeof p, "pal.png");
    write_png_raw(p, W, H, PNG_COLOR_TYPE_PALETTE, 4, pidx, 4, pal, 3, trns, 3);
    CHECK_OK(ct_image_load(p, H, W, 3, CT_RESIZE_NEAREST, back));
    int okp = 1;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int id = (y * W + x) % 3;
            okp &= !memcmp(back + 3 * (y * W + x), &pal[id], 3);
        }
    CHECK(okp, "palette PNG with tRNS");

    /* 1-bit grey */
    uint8_t bits[H];
    for (int y = 0; y < H; y++) bits[y] = (uint8_t)(y % 2 ? 0xAA : 0x55);
    path_in(p, sizeof p, "bits.png");
    write_png_raw(p, W, H, PNG_COLOR_TYPE_GRAY, 1, bits, 1, NULL, 0, NULL, 0);
    CHECK_OK(ct_image_load(p, H, W, 1, CT_RESIZE_NEAREST, g));
    CHECK(g[0] == 0 && g[1] == 255 && g[W] == 255, "1-bit grey expands to 0/255");
}

static void test_jpeg(void) {
    enum { H = 32, W = 48 };
    tjhandle tj = tjInitCompress();
    unsigned char *jb = NULL;
    unsigned long jn = 0;
    uint8_t cmyk[H * W * 4], out[H * W * 3];
    /* Adobe-style inverted CMYK: C'=0 (full cyan), others 255 (none): cyan */
    for (int i = 0; i < H * W; i++) {
        cmyk[4 * i] = 0;
        cmyk[4 * i + 1] = cmyk[4 * i + 2] = cmyk[4 * i + 3] = 255;
    }
    CHECK(tjCompress2(tj, cmyk, W, 0, H, TJPF_CMYK, &jb, &jn, TJSAMP_444, 100, 0) == 0, "CMYK encode");
    char p[1024];
    path_in(p, sizeof p, "cmyk.jpg");
    write_bytes("cmyk.jpg", jb, jn);
    CHECK_OK(ct_image_load(p, H, W, 3, CT_RESIZE_NEAREST, out));
    CHECK(out[0] < 8 && out[1] > 247 && out[2] > 247, "CMYK -> cyan: %d %d %d", out[0], out[1], out[2]);
    tjFree(jb);
    jb = NULL;
    /* grayscale JPEG to rgb and grey */
    uint8_t gsrc[H * W], g[H * W];
    for (int i = 0; i < H * W; i++) gsrc[i] = (uint8_t)(((i % W) / 8) * 40);
    CHECK(tjCompress2(tj, gsrc, W, 0, H, TJPF_GRAY, &jb, &jn, TJSAMP_GRAY, 100, 0) == 0, "grey encode");
    CHECK_OK(ct_image_decode_mem(jb, jn, "grey.jpg", H, W, 3, CT_RESIZE_NEAREST, out));
    CHECK_OK(ct_image_decode_mem(jb, jn, "grey.jpg", H, W, 1, CT_RESIZE_NEAREST, g));
    int maxd = 0;
    for (int i = 0; i < H * W; i++) {
        int d = abs(g[i] - gsrc[i]);
        maxd = d > maxd ? d : maxd;
        if (out[3 * i] != g[i] || out[3 * i + 1] != g[i]) maxd = 999;
    }
    CHECK(maxd <= 4, "grey JPEG decode, max diff %d", maxd);
    tjFree(jb);
    tjDestroy(tj);

    /* a real photo: DCT-scaled decode at 112 is close to a full decode resized */
    char src[1024];
    sample_jpg(src, sizeof src, "cats/cat.1.jpg");
    uint8_t *a = malloc(112 * 112 * 3), *b = malloc(112 * 112 * 3);
    CHECK_OK(ct_image_load(src, 112, 112, 3, CT_RESIZE_BILINEAR, a));
    CHECK_OK(ct_image_load(src, 112, 112, 3, CT_RESIZE_AREA, b));
    double md = 0;
    for (int i = 0; i < 112 * 112 * 3; i++) md += abs(a[i] - b[i]);
    md /= 112 * 112 * 3;
    CHECK(md < 8, "bilinear vs area mean abs diff %.2f", md);
    free(a);
    free(b);

    /* full decode + nearest = Keras/Pillow bit for bit (tools/gen_image_golden.py) */
    const char *srcdir = getenv("CLTRAIN_SRC_DIR");
    for (int c = 1; c <= 3; c += 2) {
        char gp[1024];
        snprintf(gp, sizeof gp, "%s/tests/golden/cat1_%s_nearest_48x64.png", srcdir ? srcdir : ".",
                 c == 3 ? "rgb" : "l");
        uint8_t *want = malloc(48 * 64 * 3), *got = malloc(48 * 64 * 3), *scaled = malloc(48 * 64 * 3);
        sample_jpg(src, sizeof src, "cats/cat.1.jpg");
        CHECK_OK(ct_image_load(gp, 48, 64, c, CT_RESIZE_NEAREST, want));
        CHECK_OK(ct_image_load(src, 48, 64, c, (ct_resize)(CT_RESIZE_NEAREST | CT_DECODE_FULL), got));
        CHECK(!memcmp(want, got, 48 * 64 * c), "full decode + nearest == Pillow (c=%d)", c);
        CHECK_OK(ct_image_load(src, 48, 64, c, CT_RESIZE_NEAREST, scaled));
        double m = 0;
        for (int i = 0; i < 48 * 64 * c; i++) m += abs(want[i] - scaled[i]);
        m /= 48 * 64 * c;
        CHECK(m < 12, "DCT-scaled decode stays close to Pillow's: mean abs diff %.2f (c=%d)", m, c);
        free(want);
        free(got);
        free(scaled);
    }

    /* bad content */
    CHECK(ct_image_decode_mem((const unsigned char *)"hello", 5, "t.jpg", 8, 8, 3, CT_RESIZE_NEAREST, out) ==
              CT_ERR_FORMAT,
          "text");
    CHECK(strstr(ct_last_error(), "t.jpg"), "message names the file: %s", ct_last_error());
}

/* Every PNG colour type and bit depth, every JPEG kind Pillow writes: cltrain's decode equals
 * Pillow's convert('RGB') / convert('L') (what Keras's load_img gives) byte for byte, except
 * where docs/ARCHITECTURE.md says it differs on purpose (tools/gen_decoder_golden.py). */
static void test_decode_vs_pillow(void) {
    const char *srcdir = getenv("CLTRAIN_SRC_DIR");
    char dir[1024], man[1100];
    snprintf(dir, sizeof dir, "%s/tests/golden/decode", srcdir ? srcdir : ".");
    snprintf(man, sizeof man, "%s/manifest.txt", dir);
    FILE *m = fopen(man, "r");
    CHECK(m != NULL, "cannot open %s", man);
    if (!m) return;
    char name[128], mode[16];
    int w, h, files = 0;
    while (fscanf(m, "%127s %d %d %15s", name, &w, &h, mode) == 4) {
        files++;
        char path[1300], gold[1300];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        for (int c = 1; c <= 3; c += 2) {
            size_t n = (size_t)w * h * c, gn = 0;
            uint8_t *got = malloc(n);
            /* 16-bit grey: Pillow clips at 255 (white photos); cltrain keeps the high byte, as
             * for 16-bit RGB (where Pillow does the same): the test holds it to that */
            int hibyte = !strcmp(mode, "I;16");
            snprintf(gold, sizeof gold, "%s/%.*s%s.%s", dir, (int)(strrchr(name, '.') - name), name,
                     hibyte ? ".hibyte" : "", c == 3 ? "rgb" : "l");
            unsigned char *want = read_all(gold, &gn);
            CHECK(want && gn == n, "golden %s (%zu bytes, want %zu)", gold, gn, n);
            ct_status s = ct_image_load(path, h, w, c, (ct_resize)(CT_RESIZE_NEAREST | CT_DECODE_FULL), got);
            CHECK(s == CT_OK, "%s: %s", name, ct_last_error());
            if (s == CT_OK && want && gn == n) {
                int worst = 0;
                for (size_t i = 0; i < n; i++) {
                    int d = abs((int)got[i] - (int)want[i]);
                    if (d > worst) worst = d;
                }
                CHECK(worst == 0, "%s (%s) c=%d: max difference to Pillow %d", name, mode, c, worst);
            }
            free(want);
            free(got);
        }
    }
    fclose(m);
    CHECK(files >= 26, "manifest lists %d files", files);
}

static void test_resize(void) {
    /* Pillow NEAREST: x_in = int((x + 0.5) * in / out) (accumulated) */
    uint8_t in5[5] = {10, 20, 30, 40, 50}, o3[3], o5[5], in3[3] = {1, 2, 3};
    char p[1024];
    path_in(p, sizeof p, "row5.png");
    CHECK_OK(ct_png_write(p, in5, 1, 5, 1));
    CHECK_OK(ct_image_load(p, 1, 3, 1, CT_RESIZE_NEAREST, o3));
    CHECK(o3[0] == 10 && o3[1] == 30 && o3[2] == 50, "5->3 nearest %d %d %d", o3[0], o3[1], o3[2]);
    path_in(p, sizeof p, "row3.png");
    CHECK_OK(ct_png_write(p, in3, 1, 3, 1));
    CHECK_OK(ct_image_load(p, 1, 5, 1, CT_RESIZE_NEAREST, o5));
    CHECK(o5[0] == 1 && o5[1] == 1 && o5[2] == 2 && o5[3] == 3 && o5[4] == 3, "3->5 nearest");
    /* AREA (Pillow BOX) 4x4 -> 2x2: pairwise rounding per pass */
    uint8_t sq[16], o4[4];
    for (int i = 0; i < 16; i++) sq[i] = (uint8_t)(i * 13 + 1);
    path_in(p, sizeof p, "sq.png");
    CHECK_OK(ct_png_write(p, sq, 4, 4, 1));
    CHECK_OK(ct_image_load(p, 2, 2, 1, CT_RESIZE_AREA, o4));
    int ok = 1;
    for (int y = 0; y < 2; y++)
        for (int x = 0; x < 2; x++) {
            int h0 = (sq[(2 * y) * 4 + 2 * x] + sq[(2 * y) * 4 + 2 * x + 1] + 1) >> 1;
            int h1 = (sq[(2 * y + 1) * 4 + 2 * x] + sq[(2 * y + 1) * 4 + 2 * x + 1] + 1) >> 1;
            ok &= o4[y * 2 + x] == ((h0 + h1 + 1) >> 1);
        }
    CHECK(ok, "area 4->2");
    /* BILINEAR upscale 2 -> 4 (Pillow: weights 0.75/0.25 inside, edge clamp) */
    uint8_t two[2] = {0, 200}, four[4];
    path_in(p, sizeof p, "two.png");
    CHECK_OK(ct_png_write(p, two, 1, 2, 1));
    CHECK_OK(ct_image_load(p, 1, 4, 1, CT_RESIZE_BILINEAR, four));
    CHECK(four[0] == 0 && four[1] == 50 && four[2] == 150 && four[3] == 200, "bilinear 2->4: %d %d %d %d",
          four[0], four[1], four[2], four[3]);
    ct_resize r;
    CHECK(ct_resize_parse("bicubic", &r) == CT_ERR_ARG, "bad resize name");
}

/* Augmentation: tests/test_augment.c. */

/* ---- loader ------------------------------------------------------------------ */
typedef struct stream {
    size_t n_floats;
    float *x;
    int32_t *y;
    int n, batches;
} stream;

static int run_epochs(const ct_dataset *ds, int workers, size_t cache_mb, int batch, int shuffle, int augment,
                      int epochs, stream *st) {
    ct_loader_opts o = {0};
    o.batch = batch;
    o.h = 24;
    o.w = 32;
    o.c = 3;
    ct_preprocess_default(&o.pre);
    o.shuffle = shuffle;
    o.seed = 1234;
    o.workers = workers;
    o.cache_mb = cache_mb;
    o.quiet = 1;
    /* 2: every transform, with the post-warp passes and a non-default fill */
    ct_augment_parse(augment == 2 ? "seed vertical_flip=1 channel_shift_range=20 "
                                    "brightness_range=0.7,1.3 fill_mode=reflect"
                     : augment    ? "seed"
                                  : "none",
                     &o.augment);
    ct_loader *l;
    if (ct_loader_create(ds, &o, &l) != CT_OK) {
        fprintf(stderr, "loader: %s\n", ct_last_error());
        return -1;
    }
    size_t img = 24 * 32 * 3;
    memset(st, 0, sizeof *st);
    st->x = malloc(sizeof(float) * img * ds->n * epochs);
    st->y = malloc(sizeof(int32_t) * ds->n * epochs);
    for (int e = 0; e < epochs; e++) {
        ct_loader_start_epoch(l, e);
        int nb = ct_loader_batches(l), seen = 0;
        for (;;) {
            ct_batch b;
            if (ct_loader_next(l, &b) != CT_OK) {
                fprintf(stderr, "next: %s\n", ct_last_error());
                break;
            }
            if (b.count == 0) break;
            CHECK(b.index == seen, "batch order %d %d", b.index, seen);
            seen++;
            memcpy(st->x + st->n * img, b.x, sizeof(float) * img * b.count);
            memcpy(st->y + st->n, b.y, sizeof(int32_t) * b.count);
            st->n += b.count;
            ct_loader_release(l, &b);
        }
        CHECK(seen == nb, "batches %d, expected %d", seen, nb);
        st->batches += seen;
    }
    st->n_floats = (size_t)st->n * img;
    int sk = ct_loader_skipped(l);
    ct_loader_free(l);
    return sk;
}

static void test_loader_determinism(void) {
    char train[1024];
    snprintf(train, sizeof train, "%s/catdog-mini/train", data_dir);
    const char *dirs[1] = {train};
    ct_dataset full, ds;
    CHECK_OK(ct_dataset_scan(dirs, 1, &full));
    /* 60 images: 30 of each class, batch 7 leaves a short last batch */
    CHECK_OK(ct_dataset_split(&full, 0.7, 0, &ds));
    ct_dataset_clear(&full);
    CHECK(ds.n == 60, "subset %d", ds.n);
    stream a, b, c, d;
    CHECK(run_epochs(&ds, 1, 64, 7, 1, 1, 2, &a) == 0, "1 worker");
    CHECK(run_epochs(&ds, 3, 64, 7, 1, 1, 2, &b) == 0, "3 workers");
    CHECK(run_epochs(&ds, 2, 0, 7, 1, 1, 2, &c) == 0, "cache off");
    CHECK(run_epochs(&ds, 2, 1, 7, 1, 1, 2, &d) == 0, "partial cache (1 MB)");
    CHECK(a.n == 120 && a.batches == 18, "count %d batches %d", a.n, a.batches);
    CHECK(a.n == b.n && !memcmp(a.x, b.x, a.n_floats * sizeof(float)) && !memcmp(a.y, b.y, a.n * 4),
          "1 vs 3 workers: bit-identical batches");
    CHECK(a.n == c.n && !memcmp(a.x, c.x, a.n_floats * sizeof(float)) && !memcmp(a.y, c.y, a.n * 4),
          "cache on vs off: bit-identical");
    CHECK(a.n == d.n && !memcmp(a.x, d.x, a.n_floats * sizeof(float)), "partial cache: bit-identical");
    /* epochs differ (shuffle + augmentation), labels are a permutation */
    size_t half = a.n_floats / 2;
    CHECK(memcmp(a.x, a.x + half, half * sizeof(float)) != 0, "epoch 1 differs from epoch 0");
    int ones = 0;
    for (int i = 0; i < 60; i++) ones += a.y[i];
    CHECK(ones == 30, "labels of epoch 0: %d ones", ones);
    int inr = 1;
    for (size_t i = 0; i < a.n_floats; i++) inr &= a.x[i] >= 0 && a.x[i] <= 1.0f;
    CHECK(inr, "rescaled to [0,1]");
    free(a.x), free(a.y), free(b.x), free(b.y), free(c.x), free(c.y), free(d.x), free(d.y);
    CHECK(run_epochs(&ds, 1, 64, 7, 1, 2, 2, &a) == 0 && run_epochs(&ds, 3, 0, 7, 1, 2, 2, &b) == 0,
          "all transforms");
    CHECK(a.n == b.n && !memcmp(a.x, b.x, a.n_floats * sizeof(float)),
          "all transforms, 1 worker + cache vs 3 workers without: bit-identical");
    free(a.x), free(a.y), free(b.x), free(b.y);

    /* no shuffle, no augmentation: dataset order, equals a direct load */
    CHECK(run_epochs(&ds, 2, 64, 16, 0, 0, 1, &a) == 0, "plain");
    uint8_t img[24 * 32 * 3];
    CHECK_OK(ct_image_load(ds.paths[37], 24, 32, 3, CT_RESIZE_NEAREST, img));
    int same = a.y[37] == ds.labels[37];
    for (int i = 0; i < 24 * 32 * 3; i++) {
        int c2 = i / (24 * 32), yx = i % (24 * 32);
        same &= a.x[37 * 24 * 32 * 3 + i] == (float)img[yx * 3 + c2] * (1.0f / 255);
    }
    CHECK(same, "unshuffled sample 37 = direct decode, CHW");
    free(a.x), free(a.y);
    ct_dataset_clear(&ds);
}

static void test_bad_files(void) {
    char src[1024], p[1024];
    mkdirs("bad/cats");
    mkdirs("bad/dogs");
    const char *good[6] = {"cats/cat.1.jpg", "cats/cat.2.jpg", "cats/cat.3.jpg",
                           "dogs/dog.1.jpg", "dogs/dog.2.jpg", "dogs/dog.3.jpg"};
    for (int i = 0; i < 6; i++) {
        sample_jpg(src, sizeof src, good[i]);
        char rel[256];
        snprintf(rel, sizeof rel, "bad/%s", good[i]);
        copy_file(src, rel);
    }
    sample_jpg(src, sizeof src, "cats/cat.4.jpg");
    size_t n;
    unsigned char *jpg = read_all(src, &n);
    write_bytes("bad/cats/truncated.jpg", jpg, n / 2);
    unsigned char *cor = malloc(n);
    memcpy(cor, jpg, n);
    for (size_t i = 4; i < 300 && i < n; i++) cor[i] ^= 0x5a; /* headers destroyed */
    write_bytes("bad/cats/corrupt.jpg", cor, n);
    free(cor);
    write_bytes("bad/dogs/empty.jpg", "", 0);
    write_bytes("bad/dogs/text.jpg", "this is not an image\n", 21);
    /* dangling symlink: listed, cannot be opened */
    path_in(p, sizeof p, "bad/dogs/dangling.jpg");
    symlink("/nonexistent/cltrain.jpg", p);
    /* a FIFO named .jpg: must not block a worker */
    path_in(p, sizeof p, "bad/dogs/fifo.jpg");
    mkfifo(p, 0644);
    int expect_bad = 6, expect_good = 6;
    /* unreadable file (root can read anything, so only expected when not root) */
    write_bytes("bad/dogs/noperm.jpg", jpg, n);
    path_in(p, sizeof p, "bad/dogs/noperm.jpg");
    chmod(p, 0);
    if (geteuid() != 0) expect_bad++;
    else expect_good++;
    /* PNG with a bad CRC in IDAT, and one with a bad CRC in an ancillary chunk */
    uint8_t px[8 * 8 * 3];
    for (int i = 0; i < (int)sizeof px; i++) px[i] = (uint8_t)i;
    path_in(p, sizeof p, "bad/cats/crc.png");
    ct_png_write(p, px, 8, 8, 3);
    size_t pn;
    unsigned char *png = read_all(p, &pn);
    for (size_t i = 8; i + 8 < pn; i++)
        if (!memcmp(png + i, "IDAT", 4)) {
            size_t len = (size_t)png[i - 4] << 24 | png[i - 3] << 16 | png[i - 2] << 8 | png[i - 1];
            if (i + 4 + len + 4 <= pn) png[i + 4 + len + 3] ^= 0x01; /* the CRC itself */
            break;
        }
    write_bytes("bad/cats/crc.png", png, pn);
    expect_bad++;
    free(png);
    free(jpg);

    char bad[1024];
    path_in(bad, sizeof bad, "bad");
    const char *dirs[1] = {bad};
    ct_dataset ds;
    CHECK_OK(ct_dataset_scan(dirs, 1, &ds));
    for (int cache = 0; cache < 2; cache++) {
        stream st;
        int sk = run_epochs(&ds, 2, cache ? 64 : 0, 4, 1, 1, 2, &st);
        CHECK(sk == expect_bad, "skipped %d, expected %d (cache %d)", sk, expect_bad, cache);
        CHECK(st.n == 2 * expect_good, "good samples over 2 epochs: %d", st.n);
        free(st.x);
        free(st.y);
    }
    ct_dataset_clear(&ds);

    /* all bad: a clear error */
    mkdirs("allbad/a");
    write_bytes("allbad/a/x.jpg", "nope", 4);
    path_in(bad, sizeof bad, "allbad");
    CHECK_OK(ct_dataset_scan(dirs, 1, &ds));
    ct_loader_opts o = {.batch = 2, .h = 8, .w = 8, .c = 3, .pre = {.rescale = 1}, .workers = 2, .quiet = 1};
    ct_loader *l = NULL;
    CHECK(ct_loader_create(&ds, &o, &l) == CT_ERR_FORMAT && !l, "all files bad is an error");
    ct_dataset_clear(&ds);
}

/* A file that breaks after create (cache off): dropped from its batch, no hang. */
static void test_goes_bad(void) {
    char src[1024];
    mkdirs("late/a");
    for (int i = 1; i <= 5; i++) {
        char rel[128], name[64];
        snprintf(name, sizeof name, "cats/cat.%d.jpg", i);
        snprintf(rel, sizeof rel, "late/a/%d.jpg", i);
        sample_jpg(src, sizeof src, name);
        copy_file(src, rel);
    }
    char dir[1024];
    path_in(dir, sizeof dir, "late");
    const char *dirs[1] = {dir};
    ct_dataset ds;
    CHECK_OK(ct_dataset_scan(dirs, 1, &ds));
    ct_loader_opts o = {.batch = 2, .h = 16, .w = 16, .c = 3, .pre = {.rescale = 1}, .workers = 2, .quiet = 1};
    ct_loader *l;
    CHECK_OK(ct_loader_create(&ds, &o, &l));
    write_bytes("late/a/3.jpg", "garbage", 7);
    for (int e = 0; e < 2; e++) {
        CHECK_OK(ct_loader_start_epoch(l, e));
        int total = 0;
        ct_batch b;
        while (ct_loader_next(l, &b) == CT_OK && b.count > 0) {
            total += b.count;
            ct_loader_release(l, &b);
        }
        CHECK(total == 4, "epoch %d: %d samples", e, total);
    }
    CHECK(ct_loader_skipped(l) == 1, "skipped %d", ct_loader_skipped(l));
    CHECK(ct_loader_batches(l) == 2, "later epochs leave it out");

    ct_loader_free(l);
    /* restart mid-epoch; holding both slots is an error, not a hang */
    o.batch = 1;
    CHECK_OK(ct_loader_create(&ds, &o, &l));
    ct_batch b1, b2, b3;
    CHECK_OK(ct_loader_start_epoch(l, 5));
    CHECK_OK(ct_loader_next(l, &b1));
    CHECK_OK(ct_loader_next(l, &b2));
    CHECK(b1.count == 1 && b2.count == 1, "two batches held");
    CHECK(ct_loader_next(l, &b3) == CT_ERR_ARG, "both slots held -> error");
    CHECK_OK(ct_loader_start_epoch(l, 6));
    CHECK_OK(ct_loader_next(l, &b1));
    CHECK(b1.count == 1 && b1.index == 0, "restarted epoch");
    CHECK(ct_loader_wait_seconds(l) >= 0, "wait seconds");
    ct_loader_free(l); /* freed mid-epoch while holding a slot */
    CHECK_OK(ct_loader_create(&ds, &o, &l));
    ct_loader_free(l); /* freed without any epoch */
    ct_dataset_clear(&ds);
}

static void test_preview(void) {
    char src[1024], out[1024];
    sample_jpg(src, sizeof src, "dogs/dog.1.jpg");
    path_in(out, sizeof out, "preview.png");
    CHECK_OK(ct_preview_write(src, out, 4, 7, 64, 64));
    int gh = 2 * 64 + 3 * 4, gw = gh;
    uint8_t *g = malloc((size_t)gh * gw * 3);
    CHECK_OK(ct_image_load(out, gh, gw, 3, CT_RESIZE_NEAREST, g));
    CHECK(g[0] == 255 && g[(4 * gw + 4) * 3] != 255, "white border, image inside");
    free(g);
    CHECK(ct_preview_write("/nonexistent.jpg", out, 4, 7, 64, 64) == CT_ERR_IO, "missing image");
}

static void rm_rf(const char *dir) {
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", dir);
}

int main(void) {
    data_dir = getenv("CLTRAIN_DATA_DIR");
    if (!data_dir) data_dir = "data";
    snprintf(tmpdir, sizeof tmpdir, "%s/cltrain-test-data-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_scan();
    test_png();
    test_jpeg();
    test_resize();
    test_decode_vs_pillow();
    test_loader_determinism();
    test_bad_files();
    test_goes_bad();
    test_preview();
    rm_rf(tmpdir);
    return ct_test_done("test_data");
}
