/* Image decoding (by content) and resizing to uint8 HWC.
 * JPEG: libjpeg-turbo (TurboJPEG API), decoded at the smallest DCT scale that is still at
 * least the target size; any libjpeg warning (e.g. a truncated file) counts as an error.
 * PNG: libpng with setjmp error handling; bad CRCs in any chunk are errors.
 * Resize: Pillow's algorithms (what Keras's load_img calls): NEAREST with Pillow's
 * accumulated half-pixel index mapping, BILINEAR and BOX ('area') as Pillow's separable
 * fixed-point convolution. Nearest is the default, as in Keras. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <turbojpeg.h>
#include <unistd.h>

#include "data/data.h"
#include "base/error.h"
#include "io/fileutil.h"

/* Larger images are rejected (they would need hundreds of MB to decode). */
#define CT_IMAGE_MAX_PIXELS (1L << 26)
#define CT_IMAGE_MAX_SIDE 32768

ct_status ct_resize_parse(const char *s, ct_resize *out) {
    if (!strcmp(s, "nearest")) *out = CT_RESIZE_NEAREST;
    else if (!strcmp(s, "bilinear")) *out = CT_RESIZE_BILINEAR;
    else if (!strcmp(s, "area") || !strcmp(s, "box")) *out = CT_RESIZE_AREA;
    else
        return ct_set_error(CT_ERR_ARG, "unknown resize '%s': use nearest (default), bilinear or area",
                            s);
    return CT_OK;
}

/* ---- colour conversion --------------------------------------------------- */
static inline uint8_t luma(const uint8_t *p) { /* Pillow's RGB -> L (ITU-R 601-2) */
    return (uint8_t)((p[0] * 19595 + p[1] * 38470 + p[2] * 7471 + 0x8000) >> 16);
}

/* ---- JPEG --------------------------------------------------------------- */
static ct_status decode_jpeg(const unsigned char *buf, size_t len, const char *name, int th, int tw,
                             int c, int full, uint8_t **pix, int *ph, int *pw) {
    tjhandle tj = tjInitDecompress();
    if (!tj) return ct_set_error(CT_ERR_MEMORY, "%s: cannot start the JPEG decoder", name);
    ct_status s = CT_OK;
    uint8_t *out = NULL, *tmp = NULL;
    /* A scrambled header can pass tjDecompressHeader3 without setting the size: start
     * from values that fail the range check below. */
    int w = 0, h = 0, subsamp = -1, cs = -1;
    if (len > (size_t)0x7fffffff ||
        tjDecompressHeader3(tj, buf, (unsigned long)len, &w, &h, &subsamp, &cs) != 0) {
        s = ct_set_error(CT_ERR_FORMAT, "%s: corrupt JPEG header (%s)", name, tjGetErrorStr2(tj));
        goto done;
    }
    if (w <= 0 || h <= 0 || w > CT_IMAGE_MAX_SIDE || h > CT_IMAGE_MAX_SIDE ||
        (long)w * h > CT_IMAGE_MAX_PIXELS) {
        if (w <= 0 || h <= 0)
            s = ct_set_error(CT_ERR_FORMAT, "%s: corrupt JPEG header (no image size)", name);
        else
            s = ct_set_error(CT_ERR_FORMAT, "%s: the JPEG is %dx%d, over the limit of %d pixels a "
                             "side and %ld pixels in all (shrink it first)", name, w, h,
                             CT_IMAGE_MAX_SIDE, (long)CT_IMAGE_MAX_PIXELS);
        goto done;
    }
    /* smallest scale (<= 1) whose output is still at least th x tw */
    int nsf = 0;
    tjscalingfactor *sf = tjGetScalingFactors(&nsf);
    int sw = w, sh = h;
    for (int i = 0; sf && !full && i < nsf; i++) {
        if (sf[i].num > sf[i].denom) continue;
        int cw = TJSCALED(w, sf[i]), ch = TJSCALED(h, sf[i]);
        if (cw >= tw && ch >= th && (long)cw * ch < (long)sw * sh) {
            sw = cw;
            sh = ch;
        }
    }
    int cmyk = cs == TJCS_CMYK || cs == TJCS_YCCK;
    /* grey output: the Y channel directly, except with full decode, where colour JPEGs go
     * through RGB and Pillow's luma, as Pillow's convert('L') does */
    int via_rgb = c == 1 && full && cs != TJCS_GRAY;
    int pf = cmyk ? TJPF_CMYK : (c == 1 && !via_rgb ? TJPF_GRAY : TJPF_RGB);
    int ps = tjPixelSize[pf];
    tmp = malloc((size_t)sw * sh * ps);
    if (!tmp) {
        s = ct_set_error(CT_ERR_MEMORY, "%s: out of memory decoding a %dx%d JPEG", name, sw, sh);
        goto done;
    }
    if (tjDecompress2(tj, buf, (unsigned long)len, tmp, sw, 0, sh, pf,
                      TJFLAG_STOPONWARNING | TJFLAG_NOREALLOC) != 0) {
        s = ct_set_error(CT_ERR_FORMAT, "%s: corrupt or truncated JPEG (%s)", name, tjGetErrorStr2(tj));
        goto done;
    }
    if (cmyk) {
        /* Adobe CMYK/YCCK JPEGs store inverted values (Pillow reads them as CMYK;I). */
        out = malloc((size_t)sw * sh * c);
        if (!out) {
            s = ct_set_error(CT_ERR_MEMORY, "%s: out of memory", name);
            goto done;
        }
        for (long i = 0; i < (long)sw * sh; i++) {
            const uint8_t *q = tmp + 4 * i;
            uint8_t rgb[3];
            for (int k = 0; k < 3; k++) rgb[k] = (uint8_t)((q[k] * q[3] + 127) / 255);
            if (c == 3) memcpy(out + 3 * i, rgb, 3);
            else out[i] = luma(rgb);
        }
        free(tmp);
        tmp = NULL;
    } else if (via_rgb) {
        for (long i = 0; i < (long)sw * sh; i++) tmp[i] = luma(tmp + 3 * i);
        out = tmp;
        tmp = NULL;
    } else {
        out = tmp;
        tmp = NULL;
    }
    *pix = out;
    *ph = sh;
    *pw = sw;
    out = NULL;
done:
    free(tmp);
    free(out);
    tjDestroy(tj);
    return s;
}

/* ---- PNG ---------------------------------------------------------------- */
typedef struct png_src {
    const unsigned char *buf;
    size_t len, pos;
    char msg[200];
} png_src;

static void png_read_mem(png_structp png, png_bytep data, png_size_t n) {
    png_src *src = png_get_io_ptr(png);
    if (n > src->len - src->pos) png_error(png, "file is truncated");
    memcpy(data, src->buf + src->pos, n);
    src->pos += n;
}

static void png_err(png_structp png, png_const_charp msg) {
    png_src *src = png_get_error_ptr(png);
    snprintf(src->msg, sizeof src->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void png_warn(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg; /* benign warnings are not printed; errors are */
}

static ct_status decode_png(const unsigned char *buf, size_t len, const char *name, int c,
                            uint8_t **pix, int *ph, int *pw) {
    png_src src = {buf, len, 0, ""};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, png_err, png_warn);
    if (!png) return ct_set_error(CT_ERR_MEMORY, "%s: cannot start the PNG decoder", name);
    png_infop info = png_create_info_struct(png);
    /* volatile: modified between setjmp and a possible longjmp */
    uint8_t *volatile img = NULL;
    png_bytep *volatile rows = NULL;
    volatile unsigned long big_w = 0, big_h = 0; /* set when the image is over the limits */
    ct_status s = CT_OK;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return ct_set_error(CT_ERR_MEMORY, "%s: cannot start the PNG decoder", name);
    }
    if (setjmp(png_jmpbuf(png))) {
        if (big_w)
            s = ct_set_error(CT_ERR_FORMAT, "%s: the PNG is %lux%lu, over the limit of %d pixels "
                             "a side and %ld pixels in all (shrink it first)", name, big_w, big_h,
                             CT_IMAGE_MAX_SIDE, (long)CT_IMAGE_MAX_PIXELS);
        else
            s = ct_set_error(CT_ERR_FORMAT, "%s: corrupt PNG (%s)", name,
                             src.msg[0] ? src.msg : "error");
        goto done;
    }
    png_set_read_fn(png, &src, png_read_mem);
    png_set_crc_action(png, PNG_CRC_ERROR_QUIT, PNG_CRC_ERROR_QUIT);
    /* The side limit is checked here rather than by png_set_user_limits, so that a valid
     * but huge image gets a message that says so instead of "corrupt". */
    png_set_user_limits(png, 0x7fffffffu, 0x7fffffffu);
    png_set_chunk_malloc_max(png, 64u << 20);
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    int ct = png_get_color_type(png, info);
    if (w > CT_IMAGE_MAX_SIDE || h > CT_IMAGE_MAX_SIDE || (long)w * h > CT_IMAGE_MAX_PIXELS) {
        big_w = w;
        big_h = h;
        png_error(png, "image is too large");
    }
    /* to 8-bit gray (grey source, grayscale mode) or 8-bit RGB; alpha is dropped, as
     * Pillow's convert('RGB') does (no compositing) */
    png_set_strip_16(png);
    png_set_packing(png);
    if (ct == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if ((ct & PNG_COLOR_MASK_COLOR) == 0) png_set_expand_gray_1_2_4_to_8(png);
    if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
    png_set_strip_alpha(png);
    int grey_src = (ct & PNG_COLOR_MASK_COLOR) == 0;
    int nc = grey_src && c == 1 ? 1 : 3;
    if (grey_src && nc == 3) png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if (png_get_rowbytes(png, info) != (size_t)w * nc) png_error(png, "unexpected row layout");
    img = malloc((size_t)w * h * nc);
    rows = malloc(sizeof(png_bytep) * h);
    if (!img || !rows) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < h; y++) rows[y] = img + (size_t)y * w * nc;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    if (nc == 3 && c == 1) {
        for (size_t i = 0; i < (size_t)w * h; i++) img[i] = luma(img + 3 * i);
    }
    *pix = img;
    img = NULL;
    *ph = (int)h;
    *pw = (int)w;
done:
    free(rows);
    free(img);
    png_destroy_read_struct(&png, &info, NULL);
    return s;
}

/* ---- resize (Pillow) ----------------------------------------------------- */
static int resize_nearest(const uint8_t *in, int ih, int iw, int c, uint8_t *out, int h, int w) {
    /* Pillow ImagingScaleAffine: x_in = (int)(a*0.5 + x*a) accumulated in double */
    int xs[8192], *xin = w <= 8192 ? xs : malloc(sizeof(int) * w);
    if (!xin) return -1;
    double a = (double)iw / w, xo = a * 0.5;
    for (int x = 0; x < w; x++, xo += a) xin[x] = (int)xo < iw ? (int)xo : iw - 1;
    double b = (double)ih / h, yo = b * 0.5;
    for (int y = 0; y < h; y++, yo += b) {
        int yi = (int)yo < ih ? (int)yo : ih - 1;
        const uint8_t *row = in + (size_t)yi * iw * c;
        uint8_t *o = out + (size_t)y * w * c;
        if (c == 3)
            for (int x = 0; x < w; x++) memcpy(o + 3 * x, row + 3 * xin[x], 3);
        else
            for (int x = 0; x < w; x++) o[x] = row[xin[x]];
    }
    if (xin != xs) free(xin);
    return 0;
}

#define PREC 22 /* Pillow's PRECISION_BITS for 8-bit images */

static double filt_bilinear(double x) {
    if (x < 0) x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}
static double filt_box(double x) { return (x > -0.5 && x <= 0.5) ? 1.0 : 0.0; }

/* Pillow precompute_coeffs + normalize_coeffs_8bpc. bounds: (xmin, xcount) per output. */
static int precompute(int insize, int outsize, double support0, double (*f)(double), int **bounds,
                      int **kk, int *ksize_out) {
    double scale = (double)insize / outsize, filterscale = scale < 1.0 ? 1.0 : scale;
    double support = support0 * filterscale;
    int ksize = (int)ceil(support) * 2 + 1;
    double *k = malloc(sizeof(double) * ksize);
    *bounds = malloc(sizeof(int) * 2 * outsize);
    *kk = malloc(sizeof(int) * (size_t)outsize * ksize);
    if (!k || !*bounds || !*kk) {
        free(k);
        return -1;
    }
    for (int xx = 0; xx < outsize; xx++) {
        double center = (xx + 0.5) * scale, ww = 0.0, ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5), xmax = (int)(center + support + 0.5);
        if (xmin < 0) xmin = 0;
        if (xmax > insize) xmax = insize;
        xmax -= xmin;
        for (int x = 0; x < xmax; x++) {
            double wgt = f((x + xmin - center + 0.5) * ss);
            k[x] = wgt;
            ww += wgt;
        }
        int *ki = *kk + (size_t)xx * ksize;
        for (int x = 0; x < ksize; x++) {
            double v = x < xmax ? (ww != 0.0 ? k[x] / ww : k[x]) : 0.0;
            ki[x] = v < 0 ? (int)(-0.5 + v * (1 << PREC)) : (int)(0.5 + v * (1 << PREC));
        }
        (*bounds)[2 * xx] = xmin;
        (*bounds)[2 * xx + 1] = xmax;
    }
    free(k);
    *ksize_out = ksize;
    return 0;
}

static inline uint8_t clip8(int v) {
    v >>= PREC;
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

static int resize_conv(const uint8_t *in, int ih, int iw, int c, uint8_t *out, int h, int w,
                       ct_resize rs) {
    double (*f)(double) = rs == CT_RESIZE_AREA ? filt_box : filt_bilinear;
    double support = rs == CT_RESIZE_AREA ? 0.5 : 1.0;
    int *bx = NULL, *kx = NULL, *by = NULL, *ky = NULL, ksx = 0, ksy = 0, rc = -1;
    uint8_t *tmp = NULL;
    if (precompute(iw, w, support, f, &bx, &kx, &ksx) || precompute(ih, h, support, f, &by, &ky, &ksy))
        goto done;
    /* horizontal pass over every input row (Pillow limits it to rows the vertical pass
     * reads; the values are the same), then vertical */
    const uint8_t *src = in;
    int need_h = w != iw, need_v = h != ih;
    if (need_h) {
        tmp = malloc((size_t)ih * w * c);
        if (!tmp) goto done;
        for (int y = 0; y < ih; y++)
            for (int x = 0; x < w; x++) {
                const int *k = kx + (size_t)x * ksx;
                int xmin = bx[2 * x], xn = bx[2 * x + 1];
                for (int ch = 0; ch < c; ch++) {
                    int ss = 1 << (PREC - 1);
                    const uint8_t *p = in + ((size_t)y * iw + xmin) * c + ch;
                    for (int i = 0; i < xn; i++) ss += p[i * c] * k[i];
                    tmp[((size_t)y * w + x) * c + ch] = clip8(ss);
                }
            }
        src = tmp;
    }
    if (need_v) {
        for (int y = 0; y < h; y++) {
            const int *k = ky + (size_t)y * ksy;
            int ymin = by[2 * y], yn = by[2 * y + 1];
            for (int x = 0; x < w * c; x++) {
                int ss = 1 << (PREC - 1);
                for (int i = 0; i < yn; i++) ss += src[(size_t)(ymin + i) * w * c + x] * k[i];
                out[(size_t)y * w * c + x] = clip8(ss);
            }
        }
    } else
        memcpy(out, src, (size_t)h * w * c);
    rc = 0;
done:
    free(bx);
    free(kx);
    free(by);
    free(ky);
    free(tmp);
    return rc;
}

/* in: ih x iw x c uint8; out: h x w x c */
static ct_status resize_any(const uint8_t *in, int ih, int iw, int c, uint8_t *out, int h, int w,
                            ct_resize rs, const char *name) {
    if (ih == h && iw == w) {
        memcpy(out, in, (size_t)h * w * c);
        return CT_OK;
    }
    if (rs == CT_RESIZE_NEAREST ? resize_nearest(in, ih, iw, c, out, h, w)
                                : resize_conv(in, ih, iw, c, out, h, w, rs))
        return ct_set_error(CT_ERR_MEMORY, "%s: out of memory resizing", name);
    return CT_OK;
}

ct_status ct_image_decode_mem(const unsigned char *buf, size_t len, const char *name, int h, int w,
                              int c, ct_resize rs, uint8_t *out) {
    if (h <= 0 || w <= 0 || (c != 1 && c != 3) || h > 8192 || w > 8192)
        return ct_set_error(CT_ERR_ARG, "%s: bad target size %dx%dx%d", name, h, w, c);
    int full = (rs & CT_DECODE_FULL) != 0;
    rs = (ct_resize)(rs & ~CT_DECODE_FULL);
    if (rs != CT_RESIZE_NEAREST && rs != CT_RESIZE_BILINEAR && rs != CT_RESIZE_AREA)
        return ct_set_error(CT_ERR_ARG, "%s: unknown resize mode %d", name, (int)rs);
    if (len == 0) return ct_set_error(CT_ERR_FORMAT, "%s: empty file (0 bytes)", name);
    uint8_t *pix = NULL;
    int ih = 0, iw = 0;
    ct_status s;
    static const unsigned char png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (len >= 3 && buf[0] == 0xFF && buf[1] == 0xD8 && buf[2] == 0xFF)
        s = decode_jpeg(buf, len, name, h, w, c, full, &pix, &ih, &iw);
    else if (len >= 8 && !memcmp(buf, png_sig, 8))
        s = decode_png(buf, len, name, c, &pix, &ih, &iw);
    else
        return ct_set_error(CT_ERR_FORMAT, "%s: not a JPEG or PNG image (unknown content)", name);
    if (s != CT_OK) return s;
    s = resize_any(pix, ih, iw, c, out, h, w, rs, name);
    free(pix);
    return s;
}

ct_status ct_image_load(const char *path, int h, int w, int c, ct_resize rs, uint8_t *out) {
    /* O_NONBLOCK: a FIFO named .jpg must not block the worker forever */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return ct_set_error(CT_ERR_IO, "%s: cannot open (%s)", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return ct_set_error(CT_ERR_IO, "%s: not a regular file", path);
    }
    if (st.st_size > (256L << 20)) {
        close(fd);
        return ct_set_error(CT_ERR_FORMAT, "%s: file is larger than 256 MB", path);
    }
    size_t len = (size_t)st.st_size, got = 0;
    unsigned char *buf = malloc(len ? len : 1);
    if (!buf) {
        close(fd);
        return ct_set_error(CT_ERR_MEMORY, "%s: out of memory reading", path);
    }
    while (got < len) {
        ssize_t r = read(fd, buf + got, len - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break; /* error, or the file shrank */
        got += (size_t)r;
    }
    int err = errno;
    close(fd);
    if (got != len) {
        free(buf);
        return ct_set_error(CT_ERR_IO, "%s: read error (%s)", path, got < len ? strerror(err) : "size changed");
    }
    ct_status s = ct_image_decode_mem(buf, len, path, h, w, c, rs, out);
    free(buf);
    return s;
}

/* ---- PNG writing ----------------------------------------------------------- */
static void png_werr(png_structp png, png_const_charp msg) {
    (void)msg;
    png_longjmp(png, 1);
}

typedef struct png_job {
    const uint8_t *img;
    int h, w, c;
} png_job;

static ct_status png_to_file(FILE *f, void *ctx) {
    const png_job *j = ctx;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, png_werr, png_warn);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    volatile int ok = 0;
    if (png && info && !setjmp(png_jmpbuf(png))) {
        png_init_io(png, f);
        png_set_IHDR(png, info, (png_uint_32)j->w, (png_uint_32)j->h, 8,
                     j->c == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
        png_write_info(png, info);
        for (int y = 0; y < j->h; y++)
            png_write_row(png, (png_const_bytep)(j->img + (size_t)y * j->w * j->c));
        png_write_end(png, NULL);
        ok = 1;
    }
    png_destroy_write_struct(&png, &info);
    return ok ? CT_OK : ct_set_error(CT_ERR_IO, "libpng could not encode the image");
}

ct_status ct_png_write(const char *path, const uint8_t *img, int h, int w, int c) {
    if ((c != 1 && c != 3) || h <= 0 || w <= 0)
        return ct_set_error(CT_ERR_ARG, "ct_png_write %s: bad shape %dx%dx%d", path, h, w, c);
    png_job j = {img, h, w, c};
    return ct_write_atomic(path, png_to_file, &j);
}
