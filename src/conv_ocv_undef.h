/* conv_ocv_undef.h - ends one dtype's instantiations of conv_ocv_template.h
 * and conv_ocv_pick.h in conv_avx512.c or conv_avx2.c: undefines the dtype's vector
 * operations and the picker's names. */
#undef OT
#undef OV
#undef OL
#undef OM
#undef O_LOADU
#undef O_STOREU
#undef O_SET1
#undef O_FMA
#undef O_ADD
#undef O_MAX
#undef O_ZERO
#undef O_MLOADZ
#undef O_MSTORE
#undef O_TRANSPOSE
#undef OPK
#undef ONARROW
#undef OWIDE
#undef O_PF
#undef O_COMPACT
#undef OCV_MIN_CT
