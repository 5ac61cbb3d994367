/* Activations (standalone and fused after dense), their backward passes, and the dense
 * bias. act codes follow ct_act: 0 none, 1 relu, 2 sigmoid, 4 tanh, 5 leakyrelu with slope
 * alpha (softmax, 3, has its own kernels). */
#include "common.h"

inline float ct_act_apply(int act, float alpha, float v) {
    if (act == 1) return v > 0.0f ? v : 0.0f;
    if (act == 2) return 1.0f / (1.0f + exp(-v));
    if (act == 4) return tanh(v);
    if (act == 5) return v > 0.0f ? v : alpha * v;
    return v;
}

/* Backward from the activation's output y (relu: y > 0; sigmoid: y (1 - y); tanh: 1 - y^2;
 * leakyrelu: the sign of y, which is the sign of x for alpha >= 0, x = 0 taking alpha as
 * PyTorch and TensorFlow do). */
inline float ct_act_grad(int act, float alpha, float y, float g) {
    if (act == 1) return y > 0.0f ? g : 0.0f;
    if (act == 2) return g * y * (1.0f - y);
    if (act == 4) return g * (1.0f - y * y);
    if (act == 5) return y > 0.0f ? g : alpha * g;
    return g;
}

__kernel void ct_act_fwd(const int n, const int act, const float alpha, __global const float *x,
                         __global float *y) {
    int i = get_global_id(0);
    if (i < n) y[i] = ct_act_apply(act, alpha, x[i]);
}

/* dx may be dy (in place). */
__kernel void ct_act_bwd(const int n, const int act, const float alpha, __global const float *y,
                         __global const float *dy, __global float *dx) {
    int i = get_global_id(0);
    if (i < n) dx[i] = ct_act_grad(act, alpha, y[i], dy[i]);
}

/* Softmax over each row of [rows][cols]; one work-item per row. y may be x. */
__kernel void ct_softmax_fwd(const int rows, const int cols, __global const float *x,
                             __global float *y) {
    int r = get_global_id(0);
    if (r >= rows) return;
    __global const float *xr = x + (size_t)r * cols;
    __global float *yr = y + (size_t)r * cols;
    float m = xr[0];
    for (int j = 1; j < cols; j++) m = fmax(m, xr[j]);
    float sum = 0.0f;
    for (int j = 0; j < cols; j++) sum += exp(xr[j] - m);
    float inv = 1.0f / sum;
    for (int j = 0; j < cols; j++) yr[j] = exp(xr[j] - m) * inv;
}

/* dx_j = y_j (dy_j - sum_k dy_k y_k). dx may be dy. */
__kernel void ct_softmax_bwd(const int rows, const int cols, __global const float *y,
                             __global const float *dy, __global float *dx) {
    int r = get_global_id(0);
    if (r >= rows) return;
    size_t o = (size_t)r * cols;
    float dot = 0.0f;
    for (int j = 0; j < cols; j++) dot += dy[o + j] * y[o + j];
    for (int j = 0; j < cols; j++) dx[o + j] = y[o + j] * (dy[o + j] - dot);
}

/* y[r][c] = act(y[r][c] + b[c]), in place after the dense GEMM. */
__kernel void ct_bias_act(const int rows, const int cols, const int act, const float alpha,
                          __global const float *b, __global float *y) {
    int i = get_global_id(0);
    if (i >= rows * cols) return;
    y[i] = ct_act_apply(act, alpha, y[i] + b[i % cols]);
}

/* db[c] = sum_r dy[r][c]; one work-item per column (rows is a batch, small). */
__kernel void ct_bias_grad(const int rows, const int cols, __global const float *dy,
                           __global float *db) {
    int c = get_global_id(0);
    if (c >= cols) return;
    float s = 0.0f;
    for (int r = 0; r < rows; r++) s += dy[(size_t)r * cols + c];
    db[c] = s;
}
