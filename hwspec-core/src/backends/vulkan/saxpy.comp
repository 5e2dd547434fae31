#version 450
// hwspec's SAXPY validation kernel: y = a * x + y over n elements.
// Rebuild with: glslangValidator -V --target-env vulkan1.0 saxpy.comp -o saxpy.spv

layout(local_size_x = 256) in;

layout(push_constant) uniform Params {
    float a;
    uint n;
} params;

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) buffer Y { float y[]; };

void main() {
    uint i = gl_GlobalInvocationID.x;
    if (i < params.n) {
        y[i] = params.a * x[i] + y[i];
    }
}
