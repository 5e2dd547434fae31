#version 450
// hwspec's SGEMM validation kernel: C = A x B for square row-major n x n matrices.
// Rebuild with: glslangValidator -V --target-env vulkan1.0 sgemm.comp -o sgemm.spv

layout(local_size_x = 16, local_size_y = 16) in;

layout(push_constant) uniform Params {
    uint n;
} params;

layout(std430, set = 0, binding = 0) readonly buffer A { float a[]; };
layout(std430, set = 0, binding = 1) readonly buffer B { float b[]; };
layout(std430, set = 0, binding = 2) writeonly buffer C { float c[]; };

void main() {
    uint col = gl_GlobalInvocationID.x;
    uint row = gl_GlobalInvocationID.y;
    uint n = params.n;
    if (row < n && col < n) {
        float sum = 0.0;
        for (uint k = 0; k < n; ++k) {
            sum += a[row * n + k] * b[k * n + col];
        }
        c[row * n + col] = sum;
    }
}
