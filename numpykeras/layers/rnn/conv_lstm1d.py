"""``ConvLSTM1D``: a convolutional LSTM over sequences of 1-D signals."""

from __future__ import annotations

from numpykeras.layers.rnn.conv_lstm import ConvLSTM


class ConvLSTM1D(ConvLSTM):
    """1D convolutional LSTM: an ``LSTM`` whose input and recurrent transformations are
    1D convolutions (Shi et al., 2015, without the peephole connections). Gates, weights and
    their shapes are Keras's (see :mod:`numpykeras.layers.rnn.conv_lstm`).

    Args:
        filters: positive int, the channels of the output (and of the states).
        kernel_size: int or tuple of 1 ints, the window of both convolutions.
        strides: int or tuple of 1 ints, the strides of the input convolution
            (``strides > 1`` cannot be combined with ``dilation_rate > 1``).
        padding: ``"valid"`` or ``"same"`` (any case), the padding of the input convolution
            (the recurrent one is always ``"same"``).
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        dilation_rate: int or tuple of 1 ints, the dilation of the input convolution.
        activation: activation of the candidate and of the output (default ``"tanh"``).
        recurrent_activation: activation of the gates (default ``"sigmoid"``).
        use_bias: whether the layer has a bias.
        kernel_initializer: initializer of ``kernel`` (default ``"glorot_uniform"``).
        recurrent_initializer: initializer of ``recurrent_kernel`` (default ``"orthogonal"``).
        bias_initializer: initializer of ``bias`` (default ``"zeros"``).
        unit_forget_bias: initialise the forget gate's bias to 1.
        kernel_regularizer, recurrent_regularizer, bias_regularizer: optional regularizers of
            the weights.
        activity_regularizer: optional regularizer of the output.
        kernel_constraint, recurrent_constraint, bias_constraint: optional constraints.
        dropout: fraction of the input elements to drop (training only).
        recurrent_dropout: fraction of the state elements to drop (training only).
        seed: optional int for the dropout masks.
        return_sequences: return every step's output rather than the last one.
        return_state: also return the final states ``h`` and ``c``.
        go_backwards: process the sequence in reverse (the returned sequence is in that order).
        stateful: the final states of batch ``i`` are the initial states of batch ``i + 1``.

    Call arguments:
        inputs: a 4D array (see Input shape).
        mask: optional boolean ``(samples, timesteps)``: false steps are skipped.
        training: whether dropout applies.
        initial_state: optional ``[h, c]`` for the first step.

    Input shape:
        ``(samples, time, steps, channels)``; channels first:
        ``(samples, time, channels, steps)``.

    Output shape:
        ``(samples, new_steps, filters)`` (channels first: the filters
        before the spatial axes), or with ``return_sequences``
        ``(samples, time, new_steps, filters)``.
        With ``return_state``, a list: the output, then ``h`` and ``c``, shaped as the last
        output. The new sizes follow from
        ``padding``, ``strides`` and ``dilation_rate`` as for a convolution.
    """

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        data_format=None,
        dilation_rate=1,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        unit_forget_bias=True,
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        **kwargs,
    ):
        super().__init__(
            rank=1,
            filters=filters,
            kernel_size=kernel_size,
            strides=strides,
            padding=padding,
            data_format=data_format,
            dilation_rate=dilation_rate,
            activation=activation,
            recurrent_activation=recurrent_activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            unit_forget_bias=unit_forget_bias,
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            activity_regularizer=activity_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            seed=seed,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            **kwargs,
        )
