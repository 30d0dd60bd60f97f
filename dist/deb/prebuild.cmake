# Run by cpack after it installed the tree to package and before it builds the .deb (CPACK_PRE_BUILD_SCRIPTS):
# turns the `cmake --install` layout into Debian's (Debian policy 12.1, 12.5, 12.7 and the zsh packaging rule):
#   the binary without .comment, man pages gzipped with -9n, zsh completion in share/zsh/vendor-completions, the copyright file and
#   changelog.Debian.gz in share/doc/centro-harness/.
if(NOT CPACK_GENERATOR STREQUAL "DEB")
  return()
endif()
set(root "${CPACK_TEMPORARY_DIRECTORY}${CPACK_PACKAGING_INSTALL_PREFIX}")
set(doc "${root}/share/doc/centro-harness")
find_program(CH_GZIP gzip REQUIRED)

file(GLOB pages "${root}/share/man/man1/*.1")
if(NOT pages)
  message(FATAL_ERROR "prebuild: no man pages under ${root}/share/man/man1")
endif()
foreach(p IN LISTS pages)
  execute_process(COMMAND ${CH_GZIP} -9nf "${p}" RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "prebuild: gzip ${p} failed")
  endif()
endforeach()

# cpack stripped the debugging symbols (CPACK_STRIP_FILES); drop the compiler's .comment as dh_strip does.
find_program(CH_STRIP strip REQUIRED)
execute_process(COMMAND ${CH_STRIP} --remove-section=.comment --remove-section=.note "${root}/bin/centro-harness"
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "prebuild: strip ${root}/bin/centro-harness failed")
endif()

file(MAKE_DIRECTORY "${root}/share/zsh/vendor-completions")
file(RENAME "${root}/share/zsh/site-functions/_centro-harness" "${root}/share/zsh/vendor-completions/_centro-harness")
file(REMOVE_RECURSE "${root}/share/zsh/site-functions")

file(MAKE_DIRECTORY "${doc}")
file(COPY_FILE "${CPACK_CH_SOURCE_DIR}/dist/deb/copyright" "${doc}/copyright")
# The changelog names the commit the package was made from; its date is the commit's (SOURCE_DATE_EPOCH), so the
# same commit gives the same package.
set(ch_date "")
find_program(CH_GIT git)
if(CH_GIT AND EXISTS "${CPACK_CH_SOURCE_DIR}/.git")
  execute_process(COMMAND ${CH_GIT} -C "${CPACK_CH_SOURCE_DIR}" log -1 --format=%ct
                  OUTPUT_VARIABLE ch_date OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  execute_process(COMMAND ${CH_GIT} -C "${CPACK_CH_SOURCE_DIR}" rev-parse --short=7 HEAD
                  OUTPUT_VARIABLE ch_hash OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
endif()
if(ch_date MATCHES "^[0-9]+$")
  set(ENV{SOURCE_DATE_EPOCH} "${ch_date}")
endif()
string(TIMESTAMP ch_when "%a, %d %b %Y %H:%M:%S +0000" UTC)
set(ch_line "Package of centro-harness ${CPACK_PACKAGE_VERSION}, built from its source tree.")
if(ch_hash)
  set(ch_line "Package of centro-harness ${CPACK_PACKAGE_VERSION}, built from git commit ${ch_hash}.")
endif()
file(WRITE "${doc}/changelog.Debian"
"centro-harness (${CPACK_DEBIAN_PACKAGE_VERSION}-${CPACK_DEBIAN_PACKAGE_RELEASE}) unstable; urgency=medium

  * ${ch_line}

 -- ${CPACK_PACKAGE_CONTACT}  ${ch_when}
")
execute_process(COMMAND ${CH_GZIP} -9nf "${doc}/changelog.Debian" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "prebuild: gzip changelog.Debian failed")
endif()
