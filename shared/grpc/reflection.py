"""gRPC server reflection, both v1 and v1alpha.

grpcurl and current tools ask for `grpc.reflection.v1` first; grpcio-reflection serves only
`v1alpha`. v1 is the same protocol renamed: the same messages with the same field numbers in a
new package. So one servicer answers both, its v1alpha messages read and written as v1 bytes,
and a v1 descriptor derived from the v1alpha one lets clients describe the v1 service itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc import aio
from grpc_reflection.v1alpha import reflection, reflection_pb2, reflection_pb2_grpc
from grpc_reflection.v1alpha._async import ReflectionServicer

V1ALPHA_SERVICE = str(reflection.SERVICE_NAME)
V1_PACKAGE = "grpc.reflection.v1"
V1_SERVICE = f"{V1_PACKAGE}.ServerReflection"
V1_FILE = "grpc/reflection/v1/reflection.proto"


def _register_v1_descriptor(pool: Any) -> None:
    """Add grpc/reflection/v1/reflection.proto to pool (once), built from the v1alpha file."""
    try:
        pool.FindFileByName(V1_FILE)
        return
    except KeyError:
        pass
    alpha = reflection_pb2.DESCRIPTOR
    file = descriptor_pb2.FileDescriptorProto()
    alpha.CopyToProto(file)
    old, new = f".{alpha.package}.", f".{V1_PACKAGE}."
    file.name = V1_FILE
    file.package = V1_PACKAGE
    file.ClearField("options")  # v1alpha's language options name v1alpha packages
    for message in file.message_type:
        for fld in message.field:
            if fld.type_name.startswith(old):
                fld.type_name = new + fld.type_name[len(old):]
    for service in file.service:
        for method in service.method:
            method.input_type = new + method.input_type[len(old):]
            method.output_type = new + method.output_type[len(old):]
    pool.Add(file)


def enable_reflection(service_names: Sequence[str], server: aio.Server) -> None:
    """Serve reflection v1 and v1alpha on server, listing service_names and both of them."""
    pool = descriptor_pool.Default()
    _register_v1_descriptor(pool)
    servicer = ReflectionServicer(
        [*service_names, V1_SERVICE, V1ALPHA_SERVICE], pool=pool
    )
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(servicer, server)
    v1 = grpc.method_handlers_generic_handler(
        V1_SERVICE,
        {
            "ServerReflectionInfo": grpc.stream_stream_rpc_method_handler(
                servicer.ServerReflectionInfo,
                request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
                response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
            )
        },
    )
    server.add_generic_rpc_handlers((v1,))
