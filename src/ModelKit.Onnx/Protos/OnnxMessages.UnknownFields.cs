// Gives ModelKit's validation read access to the fields protobuf could not match to this schema (see
// OnnxModelOptions.AllowUnknownFields). One partial declaration per message type of Protos/onnx.proto; the test
// EveryOnnxMessageType_ExposesItsUnknownFields fails when a message type is added without one.

#pragma warning disable CS1591 // The messages are documented in Protos/onnx.proto; the generated half carries those comments.

using Google.Protobuf;
using ModelKit.Onnx.Internal;

namespace ModelKit.Onnx.Protobuf;

internal sealed partial class AttributeProto : IUnknownFieldsSource
{
    UnknownFieldSet? IUnknownFieldsSource.UnknownFields => _unknownFields;
}

internal sealed partial class ValueInfoProto : IUnknownFieldsSource
{
    UnknownFieldSet? IUnknownFieldsSource.UnknownFields => _unknownFields;
}

internal sealed partial class NodeProto : IUnknownFieldsSource
{
    UnknownFieldSet? IUnknownFieldsSource.UnknownFields => _unknownFields;
}

internal sealed partial class IntIntListEntryProto : IUnknownFieldsSource
{
    UnknownFieldSet? IUnknownFieldsSource.UnknownFields => _unknownFields;
}

internal sealed partial class NodeDeviceConfigurationProto : IUnknownFieldsSource
{
    UnknownFieldSet? IUnknownFieldsSource.UnknownFields => _unknownFields;
}

internal sealed partial class ShardingSpecProto : IUnknownFieldsSource
{
    UnknownFieldSet? IUnknownFieldsSource.UnknownFields => _unknownFields;
}

internal sealed partial class ShardedDimProto : IUnknownFieldsSource
{
    UnknownFieldSet? IUnknownFieldsSource.UnknownFields => _unknownFields;
}

internal sealed partial class SimpleShardedDimProto : IUnknownFieldsSource
{
    UnknownFieldSet? IUnknownFieldsSource.UnknownFields => _unknownFields;
}

internal sealed partial class TrainingInfoProto : IUnknownFieldsSource
{
    UnknownFieldSet? IUnknownFieldsSource.UnknownFields => _unknownFields;
}

internal sealed partial class ModelProto : IUnknownFieldsSource
{
    UnknownFieldSet? IUnknownFieldsSource.UnknownFields => _unknownFields;
}

internal sealed partial class DeviceConfigurationProto : IUnknownFieldsSource
{
    UnknownFieldSet? IUnknownFieldsSource.UnknownFields => _unknownFields;
}

internal sealed partial class StringStringEntryProto : IUnknownFieldsSource
{
    UnknownFieldSet? IUnknownFieldsSource.UnknownFields => _unknownFields;
}

internal sealed partial class TensorAnnotation : IUnknownFieldsSource
{
    UnknownFieldSet? IUnknownFieldsSource.UnknownFields => _unknownFields;
}

internal sealed partial class GraphProto : IUnknownFieldsSource
{
    UnknownFieldSet? IUnknownFieldsSource.UnknownFields => _unknownFields;
}

internal sealed partial class TensorProto : IUnknownFieldsSource
{
    UnknownFieldSet? IUnknownFieldsSource.UnknownFields => _unknownFields;

    public static partial class Types
    {
        internal sealed partial class Segment : IUnknownFieldsSource
        {
            UnknownFieldSet? IUnknownFieldsSource.UnknownFields => _unknownFields;
        }
    }
}

internal sealed partial class SparseTensorProto : IUnknownFieldsSource
{
    UnknownFieldSet? IUnknownFieldsSource.UnknownFields => _unknownFields;
}

internal sealed partial class TensorShapeProto : IUnknownFieldsSource
{
    UnknownFieldSet? IUnknownFieldsSource.UnknownFields => _unknownFields;

    public static partial class Types
    {
        internal sealed partial class Dimension : IUnknownFieldsSource
        {
            UnknownFieldSet? IUnknownFieldsSource.UnknownFields => _unknownFields;
        }
    }
}

internal sealed partial class TypeProto : IUnknownFieldsSource
{
    UnknownFieldSet? IUnknownFieldsSource.UnknownFields => _unknownFields;

    public static partial class Types
    {
        internal sealed partial class Tensor : IUnknownFieldsSource
        {
            UnknownFieldSet? IUnknownFieldsSource.UnknownFields => _unknownFields;
        }

        internal sealed partial class Sequence : IUnknownFieldsSource
        {
            UnknownFieldSet? IUnknownFieldsSource.UnknownFields => _unknownFields;
        }

        internal sealed partial class Map : IUnknownFieldsSource
        {
            UnknownFieldSet? IUnknownFieldsSource.UnknownFields => _unknownFields;
        }

        internal sealed partial class Optional : IUnknownFieldsSource
        {
            UnknownFieldSet? IUnknownFieldsSource.UnknownFields => _unknownFields;
        }

        internal sealed partial class SparseTensor : IUnknownFieldsSource
        {
            UnknownFieldSet? IUnknownFieldsSource.UnknownFields => _unknownFields;
        }
    }
}

internal sealed partial class OperatorSetIdProto : IUnknownFieldsSource
{
    UnknownFieldSet? IUnknownFieldsSource.UnknownFields => _unknownFields;
}

internal sealed partial class FunctionProto : IUnknownFieldsSource
{
    UnknownFieldSet? IUnknownFieldsSource.UnknownFields => _unknownFields;
}
