# `make install` / `cmake --install`: the `converge` executable, the embedding
# API's headers, the module libraries and a CMake package, so that a service
# does
#
#   find_package(converge REQUIRED)
#   target_link_libraries(shop PRIVATE converge::node)
#
# The libraries are static, as they are built; the package finds what they
# link (RocksDB, OpenSSL, spdlog, Cereal, Threads) with find_dependency.
# Only the public headers are installed, under include/converge/: node.h,
# options.h, handles.h, subscription.h and crdt/status.h. None of them
# includes Asio, RocksDB or spdlog (tests/install checks it).
include(CMakePackageConfigHelpers)

set(CONVERGE_PUBLIC_HEADERS
  node/handles.h
  node/node.h
  node/options.h
  node/subscription.h
  crdt/status.h)
foreach(header IN LISTS CONVERGE_PUBLIC_HEADERS)
  get_filename_component(dir ${header} DIRECTORY)
  install(FILES ${PROJECT_SOURCE_DIR}/${header}
          DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/converge/${dir})
endforeach()

# converge::node, converge::crdt, ... in the installed package, as in the tree.
set_target_properties(converge_node PROPERTIES EXPORT_NAME node)
set_target_properties(converge_crdt PROPERTIES EXPORT_NAME crdt)
set_target_properties(converge_storage PROPERTIES EXPORT_NAME storage)
set_target_properties(converge_transport PROPERTIES EXPORT_NAME transport)
set_target_properties(converge_cluster PROPERTIES EXPORT_NAME cluster)
set_target_properties(converge_resp PROPERTIES EXPORT_NAME resp)
# converge_asio and converge_warnings are INTERFACE targets the static
# libraries name in their link interface (link-only: consumers get neither
# Asio's macros nor -Werror), so they travel in the export set too.
set_target_properties(converge_asio PROPERTIES EXPORT_NAME asio)
set_target_properties(converge_warnings PROPERTIES EXPORT_NAME warnings)

install(TARGETS converge_node converge_crdt converge_storage converge_transport
                converge_cluster converge_resp converge_asio converge_warnings
        EXPORT converge-targets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS converge RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

set(CONVERGE_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/converge)
install(EXPORT converge-targets
        NAMESPACE converge::
        DESTINATION ${CONVERGE_CMAKE_DIR})
configure_package_config_file(
  ${PROJECT_SOURCE_DIR}/cmake/converge-config.cmake.in
  ${PROJECT_BINARY_DIR}/converge-config.cmake
  INSTALL_DESTINATION ${CONVERGE_CMAKE_DIR})
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/converge-config-version.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/converge-config.cmake
              ${PROJECT_BINARY_DIR}/converge-config-version.cmake
        DESTINATION ${CONVERGE_CMAKE_DIR})
