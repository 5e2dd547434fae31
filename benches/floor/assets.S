/* hwspec's own kernels, built into the floor programs so that they compile and run exactly
 * what hwspec does: the OpenCL C source, the Vulkan SPIR-V and the CUDA PTX. build.sh passes
 * their paths. Each text asset ends with a NUL byte after its end label. */
    .section .rodata
    .balign 4
    .global floor_saxpy_cl, floor_saxpy_cl_end
floor_saxpy_cl:
    .incbin SAXPY_CL
floor_saxpy_cl_end:
    .byte 0

    .balign 4
    .global floor_saxpy_spv, floor_saxpy_spv_end
floor_saxpy_spv:
    .incbin SAXPY_SPV
floor_saxpy_spv_end:

    .balign 4
    .global floor_saxpy_ptx, floor_saxpy_ptx_end
floor_saxpy_ptx:
    .incbin SAXPY_PTX
floor_saxpy_ptx_end:
    .byte 0

    .section .note.GNU-stack, "", @progbits
