/** @file api.h
 * What the library exports, declared once.
 *
 * Every public function and variable in include/ringtrain/ carries RT_API.
 * The library is built with -fvisibility=hidden, so nothing else leaves it,
 * and the linker's version script (src/ringtrain.map) files what does under
 * the version node RINGTRAIN_0. Names declared in src/.../internal.h never
 * carry RT_API, and `tests/test_api.sh` holds the exported set to exactly the
 * RT_API names of these headers.
 *
 * A function may have a second public name, as TensorFlow's tf_export lists
 * several for one function. In a header,
 *
 *     RT_API_ALIAS(old_name, new_name, "use new_name");
 *
 * declares old_name with new_name's type, marked deprecated with that text,
 * and after new_name's definition in its .c file
 *
 *     RT_DEFINE_ALIAS(old_name, new_name);
 *
 * makes old_name the same function: one body, two exported symbols.
 */
#ifndef RINGTRAIN_API_H
#define RINGTRAIN_API_H

#if defined(__GNUC__)
#define RT_API __attribute__((visibility("default")))
#define RT_DEPRECATED(msg) __attribute__((deprecated(msg)))
#define RT_API_ALIAS(name, target, msg) extern RT_API __typeof__(target) name RT_DEPRECATED(msg)
#define RT_DEFINE_ALIAS(name, target) __typeof__(target) name __attribute__((alias(#target)))
#else
#error "ringtrain's headers need GCC or Clang (visibility and alias attributes)"
#endif

#endif
