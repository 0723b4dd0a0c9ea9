/* conv_simd_undef.h - ends one instantiation of conv_simd_template.h: undefines
 * the vector abstraction the including file defined (no include guard: used
 * once per instantiation). */
#undef T
#undef V
#undef VL
#undef NM
#undef TABLE
#undef VLOADU
#undef VSTOREU
#undef VSTREAM
#undef VBCAST
#undef VSET1
#undef VFMA
#undef VADD
#undef VMAX
#undef VZERO
#undef VMLOAD
#undef VMLOAD2
#undef VMLOADM
#undef VMSTORE
#undef VMASK_T
#undef VMRANGE
#undef VMZERO
#undef VEVENS
#undef VDEINT
#undef VTRANSPOSE
#undef ISA_NAME
#undef A2_TAIL_OK
#undef A2_TAIL_NB
#undef A2_TAIL_BPV
#undef A2_TAIL_MAXB
